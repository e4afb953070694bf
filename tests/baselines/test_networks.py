"""Shapes, parameter counts and layer structure of the baseline networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from baselines.dilated import FullResNet, dilation_schedule, receptive_field
from baselines.layers import count_parameters
from baselines.patchgan import PatchDiscriminator
from baselines.unet import UNetGenerator, level_widths, max_downsamplings


@pytest.mark.parametrize(
    ("size", "expected"),
    [((256, 256), 8), ((256, 512), 8), ((128, 256), 7), ((32, 64), 5), ((96, 64), 5), ((1, 8), 0)],
)
def test_downsamplings_follow_the_shorter_side(size, expected):
    assert max_downsamplings(*size) == expected


def test_level_widths_double_up_to_eight_times_ngf():
    assert level_widths(64, 8) == [64, 128, 256, 512, 512, 512, 512, 512]
    assert level_widths(4, 5) == [4, 8, 16, 32, 32]


@pytest.mark.parametrize("size", [(32, 64), (64, 64), (32, 96), (128, 256)])
@pytest.mark.parametrize("skips", [True, False])
def test_unet_output_has_input_size_and_tanh_range(size, skips):
    gen = UNetGenerator(20, 3, 4, max_downsamplings(*size), skips=skips)
    out = gen(torch.rand(2, 20, *size))
    assert out.shape == (2, 3, *size)
    assert out.abs().max() <= 1.0


def test_unet_bottleneck_is_one_by_two_for_256x512():
    gen = UNetGenerator(20, 3, 2, max_downsamplings(256, 512))
    seen = []
    gen.down[-1].register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[-2:])))
    assert gen(torch.rand(1, 20, 256, 512)).shape == (1, 3, 256, 512)
    assert seen == [(1, 2)]


def test_unet_parameter_count_matches_pix2pix_unet_256():
    # The reference pix2pix unet_256 (batch norm, 3-channel input) reports 54.414 M:
    # 54,413,955. The brief's 54,414,979 is the same net with a 4-channel input
    # (one more input channel adds 64·4·4 = 1,024 weights to the first conv).
    assert count_parameters(UNetGenerator(3, 3, 64, 8)) == 54_413_955
    assert count_parameters(UNetGenerator(4, 3, 64, 8)) == 54_414_979


def test_patchgan_parameter_count_matches_pix2pix_n_layers_3():
    assert count_parameters(PatchDiscriminator(6, 64, 3)) == 2_768_705


def test_unet_has_no_norm_on_outermost_and_innermost_down_convs():
    gen = UNetGenerator(3, 3, 4, 6)
    kinds = [[type(m) for m in block] for block in gen.down]
    assert kinds[0] == [nn.Conv2d]
    assert kinds[-1] == [nn.LeakyReLU, nn.Conv2d]
    assert all(k == [nn.LeakyReLU, nn.Conv2d, nn.BatchNorm2d] for k in kinds[1:-1])
    assert isinstance(gen.up[0][-1], nn.Tanh)
    assert all(isinstance(block[0], nn.ReLU) for block in gen.up)


def test_dropout_sits_in_the_three_innermost_decoder_blocks():
    gen = UNetGenerator(3, 3, 4, 8)
    with_dropout = [
        i for i, block in enumerate(gen.up) if any(isinstance(m, nn.Dropout) for m in block)
    ]
    assert with_dropout == [5, 6, 7]
    assert all(m.p == 0.5 for m in gen.modules() if isinstance(m, nn.Dropout))


def test_instance_norm_variant_uses_biases_and_no_affine_norm():
    gen = UNetGenerator(3, 3, 4, 5, norm="instance")
    convs = [m for m in gen.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    assert all(c.bias is not None for c in convs)
    norms = [m for m in gen.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not n.affine for n in norms)


def test_weights_are_initialised_from_normal_0_002():
    gen = UNetGenerator(3, 3, 64, 8).requires_grad_(False)
    weights = torch.cat([m.weight.flatten() for m in gen.modules() if isinstance(m, nn.Conv2d)])
    assert abs(float(weights.mean())) < 1e-3
    assert float(weights.std()) == pytest.approx(0.02, rel=0.02)
    scales = torch.cat([m.weight for m in gen.modules() if isinstance(m, nn.BatchNorm2d)])
    assert float(scales.mean()) == pytest.approx(1.0, abs=0.01)


def test_skips_change_the_output_and_encdec_has_fewer_parameters():
    skip = UNetGenerator(5, 3, 4, 5, skips=True)
    plain = UNetGenerator(5, 3, 4, 5, skips=False)
    assert count_parameters(plain) < count_parameters(skip)
    # Without skips a single-pixel change reaches the output only through the bottleneck,
    # so it moves far more than one patch of the image.
    x = torch.zeros(1, 5, 32, 32)
    plain.eval()
    base = plain(x)
    x[0, 0, 0, 0] = 1.0
    changed = (plain(x) - base).abs().sum(1) > 1e-7
    assert changed.float().mean() > 0.5


@pytest.mark.parametrize(
    ("size", "expected"), [((256, 256), (30, 30)), ((256, 512), (30, 62)), ((32, 64), (2, 6))]
)
def test_patchgan_gives_a_map_of_patch_logits(size, expected):
    disc = PatchDiscriminator(23, 4, 3)
    assert disc(torch.rand(2, 23, *size)).shape == (2, 1, *expected)


def test_patchgan_receptive_field_is_70_pixels():
    disc = PatchDiscriminator(3, 2, 3, norm="none").eval()
    x = torch.zeros(1, 3, 140, 140, requires_grad=True)
    out = disc(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad.abs().sum((0, 1)).sum(1))
    assert int(rows.max() - rows.min()) + 1 == 70


@pytest.mark.parametrize("size", [(32, 64), (128, 256), (24, 40)])
def test_fullres_keeps_the_resolution_everywhere(size):
    net = FullResNet(20, 6, 8, 5)
    seen = set()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(lambda mod, i, o: seen.add(tuple(o.shape[-2:])))
    assert net(torch.rand(2, 20, *size)).shape == (2, 6, *size)
    assert seen == {size}


def test_fullres_dilations_double_and_cover_the_receptive_field():
    assert dilation_schedule(6) == [1, 1, 2, 4, 8, 1]
    assert receptive_field(6) == 35
    net = FullResNet(1, 3, 2, 6, norm="none").eval()
    x = torch.zeros(1, 1, 71, 71, requires_grad=True)
    net(x)[0, 0, 35, 35].backward()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0))
    assert int(cols.max() - cols.min()) + 1 == 35
