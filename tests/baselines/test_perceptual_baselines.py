"""encdec, fullres and crn-l1: outputs, single-phase training that lowers the loss, args."""

from __future__ import annotations

import argparse

import pytest
import torch
from baseline_helpers import NUM_CLASSES, make_batch, train_steps

from baselines.crn_l1 import CRNL1Args, CRNL1Model
from baselines.encdec import EncDecArgs, EncDecModel
from baselines.fullres import FullResArgs, FullResModel
from crn.errors import UserError
from crn.losses import PerceptualArgs

CHANNELS = NUM_CLASSES + 1
VGG = PerceptualArgs("random", layer_weights="auto", calibration_batches=1)


def build(name: str, size=(32, 64), channels: int = CHANNELS, **kw):
    torch.manual_seed(0)
    if name == "encdec":
        return EncDecModel(EncDecArgs(channels, size, VGG, ngf=4, **kw))
    if name == "fullres":
        return FullResModel(FullResArgs(channels, size, VGG, width=8, depth=4, **kw))
    return CRNL1Model(CRNL1Args(channels, size, width=1 / 64, **kw))


def _raw(model, label):
    """The network's own output, before `generate` maps it to images."""
    if hasattr(model, "raw_images"):
        return model.raw_images(label)
    return model.generator(label)


@pytest.mark.parametrize("name", ["encdec", "fullres", "crn-l1"])
@pytest.mark.parametrize("size", [(32, 64), (64, 64), (128, 256)])
def test_generate_gives_images_in_unit_range(name, size):
    model = build(name, size).eval()
    # Scale the last layer up so that the raw output leaves [0, 1]: generate must bring it back.
    with torch.no_grad():
        last = [p for p in model.parameters() if p.ndim == 4][-1]
        last.mul_(50.0)
        label = make_batch(2, size)["label"]
        # One image at a time, as generate runs models whose norm would mix a batch.
        raw = torch.cat([_raw(model, label[i : i + 1]) for i in range(2)])
        out = model.generate(label)
    assert out.shape == (2, model.num_outputs, 3, *size)
    if name == "encdec":  # ends in tanh, mapped to [0, 1]: the raw images are already in range
        assert float(raw.min()) >= 0.0 and float(raw.max()) <= 1.0
    else:  # a linear last layer: without the clip these images would leave [0, 1]
        assert float(raw.min()) < 0.0 or float(raw.max()) > 1.0
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.allclose(out, raw.reshape(out.shape).clamp(0.0, 1.0), atol=1e-3)
    assert model.image_size == size


@pytest.mark.parametrize("name", ["encdec", "fullres"])
def test_k_outputs_per_label_map(name):
    model = build(name, k=3).eval()
    with torch.no_grad():
        assert model.generate(make_batch()["label"]).shape == (2, 3, 3, 32, 64)


@pytest.mark.parametrize("name", ["encdec", "fullres", "crn-l1"])
def test_a_few_steps_on_the_synthetic_set_reduce_the_loss(synthetic_batch, name):
    batch = synthetic_batch
    model = build(name, channels=batch["label"].shape[1])
    model.prepare_training()
    if model.calibration_due(0):
        weights = model.calibrate([batch], 0)["layer_weights"]
        assert all(w > 0 for w in weights.values())
        assert not model.calibration_due(0)
        assert model.metadata()["layer_weights"] == weights
    assert [p.name for p in model.phases()] == ["generator"]
    history = train_steps(model, batch, steps=15, lr_scale=20.0)
    assert history[-1]["generator_total"] < 0.9 * history[0]["generator_total"]


@pytest.mark.parametrize("name", ["encdec", "fullres"])
def test_perceptual_models_record_the_vgg_and_exclude_it_from_checkpoints(name):
    model = build(name)
    model.prepare_training()
    assert model.metadata()["vgg_weights"] == "random"
    assert model.checkpoint_exclude() == ("perceptual.vgg.",)
    assert any(k.startswith("perceptual.vgg.") for k in model.state_dict())


@pytest.mark.parametrize("name", ["encdec", "fullres", "crn-l1"])
def test_args_survive_a_dict_round_trip(name):
    model = build(name)
    assert type(model).args_from_dict(model.args_to_dict()) == model.args


def test_encdec_with_batch_norm_generates_each_image_on_its_own():
    model = build("encdec").eval()
    label = make_batch()["label"]
    with torch.no_grad():
        assert torch.allclose(model.generate(label)[1:], model.generate(label[1:]), atol=1e-6)


class FakeSplits:
    size = (32, 64)
    num_label_channels = CHANNELS
    classes = ()


def parse(cls, argv):
    parser = argparse.ArgumentParser()
    cls.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_builds_scaled_models_with_random_vgg():
    ns = parse(EncDecModel, ["--width", "0.125", "--vgg-weights", "random", "--k", "2"])
    args = EncDecModel.args_from_namespace(ns, FakeSplits())
    assert (args.ngf, args.k, args.perceptual.vgg_weights) == (8, 2, "random")
    ns = parse(FullResModel, ["--width", "0.25", "--depth", "6", "--vgg-weights", "random"])
    args = FullResModel.args_from_namespace(ns, FakeSplits())
    assert (args.width, args.depth, args.norm) == (32, 6, "layer")
    args = CRNL1Model.args_from_namespace(parse(CRNL1Model, ["--width", "0.5"]), FakeSplits())
    assert (args.width, args.size) == (0.5, (32, 64))


def test_cli_errors_are_one_line_user_errors():
    ns = parse(FullResModel, ["--depth", "2", "--vgg-weights", "random"])
    with pytest.raises(UserError, match="--depth must be at least 3"):
        FullResModel.args_from_namespace(ns, FakeSplits())
    with pytest.raises(SystemExit):
        parse(EncDecModel, ["--width", "0"])


def test_encdec_skips_are_offered_and_recorded():
    plain, skipped = build("encdec"), build("encdec", skips=True)
    assert not plain.generator.skips and skipped.generator.skips
    sizes = [sum(p.numel() for p in m.generator.parameters()) for m in (plain, skipped)]
    assert sizes[1] > sizes[0]  # the decoder's convs also read the skipped features
    label = make_batch()["label"]
    with torch.no_grad():
        assert skipped.eval().generate(label).shape == (2, 1, 3, 32, 64)
    ns = parse(EncDecModel, ["--vgg-weights", "random", "--skips"])
    assert EncDecModel.args_from_namespace(ns, FakeSplits()).skips is True
    assert EncDecModel.args_from_dict({**plain.args_to_dict()} | {"skips": True}).skips


def test_crn_l1_loss_is_the_authors_image_term_over_255():
    # The authors' CRN loss begins with a class-masked mean absolute error on the 0-255 image
    # (mean subtraction cancels); docs/baselines.md says crn-l1 trains with that term alone.
    model = build("crn-l1")
    batch = make_batch()
    with torch.no_grad():
        fake = model.generator(batch["label"])[:, 0]
        l1 = model("generator", batch, 0)["l1"]
    err = (fake * 255 - batch["photo"] * 255).abs().mean(dim=1, keepdim=True)
    per_image = (batch["label"] * err).mean(dim=(2, 3)).sum(dim=1)
    assert torch.allclose(per_image.mean(), l1 * 255, rtol=1e-5)
    assert float(l1) > 0.0
