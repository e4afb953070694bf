"""The CRN generator: module count, channel schedule, parameters, output range."""

from __future__ import annotations

import itertools

import pytest
import torch

from crn.errors import UserError
from crn.losses import PerceptualArgs
from crn.models.crn import CRNArgs, CRNModel
from crn.models.generator import (
    CRNGenerator,
    channel_schedule,
    default_num_outputs,
    scales,
)


@pytest.mark.parametrize(
    ("size", "count"), [((256, 512), 7), ((512, 1024), 8), ((1024, 2048), 9), ((32, 64), 4)]
)
def test_one_module_per_scale_from_4x8(size, count):
    levels = scales(size)
    assert len(levels) == count
    assert levels[0] == (4, 8) and levels[-1] == size
    assert all(b == (2 * a[0], 2 * a[1]) for a, b in itertools.pairwise(levels))


def test_channel_schedule_follows_the_authors():
    assert channel_schedule((256, 512)) == [1024] * 5 + [512, 512]
    assert channel_schedule((1024, 2048)) == [1024] * 5 + [512, 512, 128, 32]
    assert channel_schedule((256, 512), width=0.25) == [256] * 5 + [128, 128]
    assert channel_schedule((32, 64), width=0.05) == [51] * 4


def test_default_k_is_nine_up_to_256p():
    assert default_num_outputs((256, 512)) == 9
    assert default_num_outputs((512, 1024)) == 1


@pytest.mark.parametrize("size", [(48, 96), (32, 60), (2, 4), (2048, 4096)])
def test_bad_sizes_are_user_errors(size):
    with pytest.raises(UserError):
        scales(size)


def _expected_parameters(label_ch, size, width, k):
    total, previous = 0, 0
    for ch in channel_schedule(size, width):
        total += 9 * (previous + label_ch) * ch + 2 * ch  # conv1 (no bias) + norm1 scale/shift
        total += 9 * ch * ch + 2 * ch  # conv2 + norm2
        previous = ch
    return total + previous * 3 * k + 3 * k  # final 1×1 conv with bias


@pytest.mark.parametrize(("size", "width", "k"), [((32, 64), 0.05, 3), ((64, 128), 0.1, 9)])
def test_parameter_count(size, width, k):
    net = CRNGenerator(20, size, width, k)
    assert sum(p.numel() for p in net.parameters()) == _expected_parameters(20, size, width, k)


def test_paper_size_parameter_count_on_meta_device():
    with torch.device("meta"):
        net = CRNGenerator(20, (256, 512), 1.0, 9)
    count = sum(p.numel() for p in net.parameters())
    assert count == _expected_parameters(20, (256, 512), 1.0, 9)
    assert count == 97_875_483  # ≈ 98M parameters at 256×512 with 19 classes + void


def test_module_structure_convs_without_bias_then_layer_norm():
    net = CRNGenerator(5, (32, 64), 0.05, 2)
    block = net.blocks[1]
    assert block.conv1.bias is None and block.conv2.bias is None
    assert block.conv1.in_channels == 51 + 5  # upsampled features + label
    assert net.blocks[0].conv1.in_channels == 5  # coarsest: the label alone
    assert block.norm1.num_groups == 1 and block.norm1.weight.shape == (51,)
    assert net.to_rgb.kernel_size == (1, 1) and net.to_rgb.out_channels == 6


def _label(batch, channels, size, seed=0):
    gen = torch.Generator().manual_seed(seed)
    index = torch.randint(0, channels, (batch, *size), generator=gen)
    return torch.nn.functional.one_hot(index, channels).permute(0, 3, 1, 2).float()


def test_generate_is_clipped_training_output_is_not():
    args = CRNArgs(5, (32, 64), PerceptualArgs("random"), width=0.05, num_outputs=3)
    torch.manual_seed(0)
    model = CRNModel(args)
    with torch.no_grad():
        model.generator.to_rgb.bias.fill_(3.0)  # push outputs beyond 1
        raw = model.generator(_label(2, 5, (32, 64)))
        images = model.generate(_label(2, 5, (32, 64)))
    assert raw.shape == images.shape == (2, 3, 3, 32, 64)
    assert raw.max() > 1.0
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_output_is_half_of_conv_plus_one():
    net = CRNGenerator(5, (16, 32), 0.05, 1)
    with torch.no_grad():
        net.to_rgb.weight.zero_()
        net.to_rgb.bias.copy_(torch.tensor([-1.0, 0.0, 1.0]))
        out = net(_label(1, 5, (16, 32)))
    assert torch.allclose(out[0, 0, :, 0, 0], torch.tensor([0.0, 0.5, 1.0]))


def test_wrong_label_size_is_a_user_error():
    net = CRNGenerator(5, (32, 64), 0.05, 1)
    with pytest.raises(UserError, match="expects"):
        net(_label(1, 5, (16, 32)))
