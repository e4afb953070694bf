"""The pix2pix model: what its discriminator sees, its losses, training and generation."""

from __future__ import annotations

import argparse

import pytest
import torch
from baseline_helpers import NUM_CLASSES, PALETTE, train_steps

from baselines import options
from baselines.pix2pix import Pix2PixArgs, Pix2PixModel
from crn.data.splits import load_splits
from crn.errors import UserError


def tiny(channels: int = NUM_CLASSES + 1, palette=PALETTE, **kw) -> Pix2PixModel:
    torch.manual_seed(0)
    return Pix2PixModel(Pix2PixArgs(channels, (32, 64), palette, ngf=4, ndf=4, **kw))


class Recorder(torch.nn.Module):
    """Stands in for the GAN loss and records (input pair, target) of every call."""

    def __init__(self, disc_inputs: list) -> None:
        super().__init__()
        self.disc_inputs = disc_inputs
        self.calls: list[tuple[torch.Tensor, bool]] = []

    def forward(self, logits, target_is_real):
        self.calls.append((self.disc_inputs[-1], target_is_real))
        return logits.mean() * 0 + (1.0 if target_is_real else 2.0)


def spy(model: Pix2PixModel) -> Recorder:
    inputs: list = []
    model.discriminator.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
    recorder = Recorder(inputs)
    model.gan_loss = recorder
    return recorder


def test_discriminator_sees_real_and_fake_pairs_with_the_right_targets(batch):
    model = tiny()
    recorder = spy(model)
    losses = model("discriminator", batch, 0)
    assert len(recorder.calls) == 2
    real_img = batch["photo"] * 2 - 1
    fake_img = model._pending[2].detach()
    by_target = {target: pair for pair, target in recorder.calls}
    assert torch.equal(by_target[True][:, :-3], batch["label"])
    assert torch.equal(by_target[True][:, -3:], real_img)
    assert torch.equal(by_target[False][:, :-3], batch["label"])
    assert torch.equal(by_target[False][:, -3:], fake_img)
    # Halved: 0.5 · (1 (real) + 2 (fake)).
    assert float(losses["total"].detach()) == pytest.approx(1.5)


def test_generator_phase_fools_the_discriminator_on_the_same_fake(batch):
    model = tiny()
    model("discriminator", batch, 3)
    fake = model._pending[2]
    recorder = spy(model)
    losses = model("generator", batch, 3)
    assert [target for _, target in recorder.calls] == [True]
    assert torch.equal(recorder.calls[0][0][:, -3:], fake.detach())
    l1 = (fake.detach() - (batch["photo"] * 2 - 1)).abs().mean()
    assert float(losses["g_l1"]) == pytest.approx(float(l1), rel=1e-6)
    assert float(losses["total"].detach()) == pytest.approx(1.0 + 100 * float(l1), rel=1e-5)


def test_generator_phase_gives_gradients_to_g_only(batch):
    model = tiny()
    model("discriminator", batch, 0)
    model.zero_grad(set_to_none=True)
    model("generator", batch, 0)["total"].backward()
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())


def test_discriminator_phase_gives_gradients_to_d_only(batch):
    model = tiny()
    model("discriminator", batch, 0)["total"].backward()
    assert all(p.grad is None for p in model.generator.parameters())
    assert all(p.grad is not None for p in model.discriminator.parameters())


def test_generator_phase_alone_recomputes_the_fake(batch):
    model = tiny()
    losses = model("generator", batch, 7)
    assert torch.isfinite(losses["total"])
    assert model._pending is None


def test_phases_are_d_then_g_with_the_paper_adam_and_decay():
    phases = tiny().phases()
    assert [p.name for p in phases] == ["discriminator", "generator"]
    assert [p.modules for p in phases] == [("discriminator",), ("generator",)]
    assert all(p.lr == 2e-4 and p.betas == (0.5, 0.999) and p.decay_start == 0.5 for p in phases)


@pytest.mark.parametrize("gan_mode", ["vanilla", "lsgan"])
@pytest.mark.parametrize("label_input", ["onehot", "rgb"])
def test_a_few_steps_on_the_synthetic_set_reduce_the_l1_and_d_losses(
    data, synthetic_batch, gan_mode, label_input
):
    splits = load_splits(data["splits"])
    channels, palette = splits.num_label_channels, options.palette(splits)
    model = tiny(channels, palette, gan_mode=gan_mode, label_input=label_input)
    history = train_steps(model, synthetic_batch, steps=25, lr_scale=5.0)
    first, last = history[0], history[-1]
    assert last["g_l1"] < 0.7 * first["g_l1"]
    assert last["discriminator_total"] < first["discriminator_total"]


def test_rgb_input_draws_the_label_colours(batch):
    model = tiny(label_input="rgb")
    x = model.label_input(batch["label"])
    assert x.shape == (2, 3, 32, 64)
    idx = batch["label"].argmax(1)
    colours = torch.tensor(PALETTE, dtype=torch.float32) / 127.5 - 1
    assert torch.allclose(x.permute(0, 2, 3, 1), colours[idx])


@pytest.mark.parametrize("dropout", [True, False])
def test_generate_gives_one_image_in_unit_range_independent_of_the_batch(batch, dropout):
    model = tiny().eval()
    model.set_generation_dropout(dropout)
    with torch.no_grad():
        torch.manual_seed(0)
        both = model.generate(batch["label"])
        torch.manual_seed(0)
        first = model.generate(batch["label"][:1])
    assert both.shape == (2, 1, 3, 32, 64)
    assert float(both.min()) >= 0.0 and float(both.max()) <= 1.0
    assert torch.allclose(both[:1], first, atol=1e-6)


def test_generate_maps_tanh_output_to_unit_range(batch):
    # The generator ends in tanh ([-1, 1]); generate must map it to [0, 1], not merely clip.
    model = tiny().eval()
    model.set_generation_dropout(False)
    with torch.no_grad():
        raw = model.generator(model.label_input(batch["label"][:1]))
        out = model.generate(batch["label"][:1])
    assert float(raw.min()) < 0.0  # without the mapping, clipping would zero these pixels
    assert torch.allclose(out[:, 0], (raw + 1) / 2, atol=1e-6)


def test_generation_keeps_dropout_on_by_default_as_the_reference(batch):
    model = tiny().eval()
    assert model.generation_dropout() is True
    with torch.no_grad():
        torch.manual_seed(0)
        a = model.generate(batch["label"])
        torch.manual_seed(0)
        again = model.generate(batch["label"])
        torch.manual_seed(1)
        other = model.generate(batch["label"])
        model.set_generation_dropout(False)
        off = model.generate(batch["label"])
        plain = model.generator(model.label_input(batch["label"])[:1])  # eval: no dropout
    assert torch.equal(a, again) and not torch.allclose(a, other)
    assert not torch.allclose(a, off)
    assert torch.allclose(off[:1, 0], plain.add(1).mul(0.5).clamp(0, 1), atol=1e-6)
    assert model.generation_dropout() is False
    assert not any(m.training for m in model.modules())  # dropout put back in eval mode


def test_a_pix2pix_without_dropout_cannot_keep_it_on():
    model = tiny(dropout=0.0)
    assert model.generation_dropout() is None
    model.set_generation_dropout(False)
    with pytest.raises(UserError, match="no dropout"):
        model.set_generation_dropout(True)


def test_bad_args_are_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="GAN loss 'hinge'"):
        Pix2PixArgs(5, (32, 64), PALETTE, gan_mode="hinge")
    with pytest.raises(ValueError, match="at least 32"):
        Pix2PixArgs(5, (16, 64), PALETTE)
    with pytest.raises(ValueError, match="halvings"):
        Pix2PixArgs(5, (33, 65), PALETTE)


class FakeClass:
    def __init__(self, color):
        self.color = color


class FakeSplits:
    size = (32, 64)
    num_label_channels = NUM_CLASSES + 1
    classes = tuple(FakeClass(c) for c in PALETTE[:-1])


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    Pix2PixModel.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_defaults_are_the_paper_settings():
    args = Pix2PixModel.args_from_namespace(parse([]), FakeSplits())
    assert (args.ngf, args.ndf, args.norm, args.gan_mode, args.lambda_l1) == (
        64,
        64,
        "batch",
        "vanilla",
        100.0,
    )
    assert (args.lr, args.beta1, args.decay_start, args.label_input) == (2e-4, 0.5, 0.5, "onehot")
    assert args.palette[-1] == (0, 0, 0) and len(args.palette) == NUM_CLASSES + 1


def test_cli_width_and_options_are_applied():
    ns = parse(
        [
            "--width",
            "0.25",
            "--label-input",
            "rgb",
            "--gan-loss",
            "lsgan",
            "--norm",
            "instance",
            "--decay-start",
            "none",
        ]
    )
    args = Pix2PixModel.args_from_namespace(ns, FakeSplits())
    assert (args.ngf, args.ndf, args.label_input, args.gan_mode, args.norm) == (
        16,
        16,
        "rgb",
        "lsgan",
        "instance",
    )
    assert args.decay_start is None
    assert Pix2PixModel.args_from_dict(Pix2PixModel(args).args_to_dict()) == args


def test_cli_rejects_a_negative_lambda():
    with pytest.raises(UserError, match="--lambda-l1"):
        Pix2PixModel.args_from_namespace(parse(["--lambda-l1", "-1"]), FakeSplits())
