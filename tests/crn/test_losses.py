"""The masked perceptual diversity loss: masks, min-over-k, calibration, weight specs."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from crn.errors import UserError
from crn.losses import (
    AUTHORS_LAYER_WEIGHTS,
    LOSS_LAYERS,
    PerceptualArgs,
    PerceptualLoss,
    add_perceptual_arguments,
    area_resize,
    diversity_loss,
    masked_errors,
    parse_layer_weights,
    perceptual_args_from_namespace,
)

PIXELS_ONLY = "1,0,0,0,0,0"


def _loss(weights="auto"):
    loss = PerceptualLoss(PerceptualArgs("random", layer_weights=weights))
    loss.load_vgg()
    return loss


def _two_class_label(h=16, w=32, channels=4):
    """Class 0 on the left half, class 1 on the right; classes 2 and void absent."""
    label = torch.zeros(1, channels, h, w)
    label[:, 0, :, : w // 2] = 1
    label[:, 1, :, w // 2 :] = 1
    return label


def test_area_resize_averages_blocks():
    masks = torch.tensor([[[[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]]])
    assert area_resize(masks, (1, 2)).flatten().tolist() == [0.25, 1.0]


def test_an_absent_class_contributes_nothing():
    loss = _loss()
    real = torch.rand(1, 3, 16, 32)
    fake = torch.rand(1, 2, 3, 16, 32)
    errors = loss.layer_errors(fake, real, _two_class_label())
    for name in LOSS_LAYERS:
        assert errors[name].shape == (1, 2, 4)
        assert torch.all(errors[name][..., 2:] == 0), name  # class 2 and void are absent
        assert torch.all(errors[name][..., :2] > 0), name


def test_errors_are_masked_per_class():
    real = torch.zeros(1, 3, 4, 8)
    fake = torch.zeros(1, 3, 4, 8)
    fake[..., 4:] = 0.6  # wrong only on class 1's half
    errors = masked_errors(real, fake, _two_class_label(4, 8))
    assert errors[0, 0].tolist() == pytest.approx([0.0, 0.6 * 0.5, 0.0, 0.0])


def test_min_over_k_sends_gradient_to_the_best_image_per_class():
    loss = _loss(PIXELS_ONLY)
    real = torch.full((1, 3, 16, 32), 0.5)
    fake = torch.full((1, 3, 3, 16, 32), 0.9)
    fake[0, 0, :, :, :16] = 0.55  # image 0 is best on class 0 (left)
    fake[0, 1, :, :, 16:] = 0.45  # image 1 is best on class 1 (right)
    fake.requires_grad_(True)
    loss(fake, real, _two_class_label())["total"].backward()
    grad = fake.grad[0].abs()
    best_left, best_right = grad[0, :, :, :16], grad[1, :, :, 16:]
    others = [grad[1, :, :, :16], grad[2, :, :, :16], grad[0, :, :, 16:], grad[2, :, :, 16:]]
    ratio = (0.999 + 0.001 / 3) / (0.001 / 3)
    for other in others:
        assert torch.allclose(best_left, other * ratio, rtol=1e-4)
        assert torch.allclose(best_right, other * ratio, rtol=1e-4)
        assert (other > 0).all()  # only the 0.001 mean term reaches them


def test_diversity_formula():
    errors = torch.tensor([[[1.0, 4.0], [3.0, 2.0]]])  # B=1, k=2, classes=2
    expected = 0.999 * (1.0 + 2.0) + 0.001 * (2.0 + 3.0)
    assert float(diversity_loss(errors)) == pytest.approx(expected)


def test_k1_is_masked_feature_matching():
    loss = _loss("1,0.5,0.25,2,1,3")
    real, fake = torch.rand(2, 3, 32, 64), torch.rand(2, 1, 3, 32, 64)
    label = (
        torch.nn.functional.one_hot(torch.randint(0, 4, (2, 32, 64)), 4).permute(0, 3, 1, 2).float()
    )
    total = loss(fake, real, label)["total"]
    feats_real, feats_fake = loss.vgg(real), loss.vgg(fake[:, 0])
    weights = (1, 0.5, 0.25, 2, 1, 3)
    plain = sum(
        w * (feats_real[n] - feats_fake[n]).abs().mean()
        for w, n in zip(weights, LOSS_LAYERS, strict=True)
    )
    assert float(total) == pytest.approx(float(plain), rel=1e-4)


def test_calibration_sets_inverse_term_means():
    loss = _loss("auto")
    assert loss.calibration_due(0)
    real, fake = torch.rand(1, 3, 32, 64), torch.rand(1, 2, 3, 32, 64)
    label = _two_class_label(32, 64)
    weights = loss.calibrate([(fake, real, label)])
    assert not loss.calibration_due(0)
    terms = loss(fake, real, label)
    for name in LOSS_LAYERS:
        assert weights[name] * float(terms[f"p_{name}"]) == pytest.approx(1.0, rel=1e-4)


def test_layer_weight_specs():
    assert parse_layer_weights("auto") is None
    p256 = (1, 1 / 1.6, 1 / 2.3, 1 / 1.8, 1 / 2.8, 10 / 0.8)  # demo_256p.py
    p512 = (1, 1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)  # demo_512p.py, demo_1024p.py
    assert parse_layer_weights("authors-256p") == pytest.approx(p256)
    assert parse_layer_weights("authors-512p") == pytest.approx(p512)
    assert parse_layer_weights("authors") == AUTHORS_LAYER_WEIGHTS["authors-256p"]  # old runs
    assert parse_layer_weights(PIXELS_ONLY) == (1, 0, 0, 0, 0, 0)
    for bad in ("1,2", "a,b,c,d,e,f", "1,1,1,1,1,-1"):
        with pytest.raises(UserError, match="--layer-weights"):
            parse_layer_weights(bad)


def _namespace(*argv):
    parser = argparse.ArgumentParser()
    add_perceptual_arguments(parser)
    return parser.parse_args(list(argv))


def test_default_weights_depend_on_the_vgg_file(tmp_path):
    assert (
        perceptual_args_from_namespace(_namespace("--vgg-weights", "random")).layer_weights
        == "auto"
    )
    mat = tmp_path / "imagenet-vgg-verydeep-19.mat"
    mat.write_bytes(b"x")
    args = perceptual_args_from_namespace(_namespace("--vgg-weights", str(mat)))
    assert args.layer_weights == "authors-256p"  # no size: the paper's main setting
    calib = tmp_path / "weights.json"
    values = dict(zip(LOSS_LAYERS, range(1, 7), strict=True))
    calib.write_text(json.dumps({"layer_weights": values}))
    args = perceptual_args_from_namespace(
        _namespace("--vgg-weights", "random", "--layer-weights", str(calib))
    )
    assert parse_layer_weights(args.layer_weights) == (1, 2, 3, 4, 5, 6)


def test_memory_saving_gradient_matches_autograd():
    from crn.losses import _masked_errors

    torch.manual_seed(0)
    real = torch.randn(2, 5, 6, 8, dtype=torch.double)
    fake = torch.randn(6, 5, 6, 8, dtype=torch.double, requires_grad=True)
    masks = torch.rand(2, 4, 6, 8, dtype=torch.double)
    assert torch.autograd.gradcheck(lambda f: masked_errors(real, f, masks), (fake,))
    grad = torch.randn(2, 3, 4, dtype=torch.double)
    ours = torch.autograd.grad(masked_errors(real, fake, masks), fake, grad)[0]
    plain = torch.autograd.grad(_masked_errors(real, fake, masks), fake, grad)[0]
    assert torch.allclose(ours, plain)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((64, 128), "authors-256p"), ((256, 512), "authors-256p"), ((512, 1024), "authors-512p")],
)
def test_authors_weights_follow_the_image_size(tmp_path, size, expected):
    mat = tmp_path / "imagenet-vgg-verydeep-19.mat"
    mat.write_bytes(b"x")
    for argv in (
        ("--vgg-weights", str(mat)),
        ("--vgg-weights", "random", "--layer-weights", "authors"),
    ):
        ns = _namespace(*argv)
        ns.size = size
        assert perceptual_args_from_namespace(ns).layer_weights == expected
    ns = _namespace("--vgg-weights", "random", "--layer-weights", "authors-256p")
    ns.size = (1024, 2048)
    assert perceptual_args_from_namespace(ns).layer_weights == "authors-256p"  # explicit wins


def test_calibrate_at_a_later_step_replaces_interim_weights():
    loss = PerceptualLoss(PerceptualArgs("random", layer_weights="auto", calibrate_at=5))
    loss.load_vgg()
    assert loss.calibration_due(0) and not loss.calibration_due(3)
    real, fake = torch.rand(1, 3, 32, 64), torch.rand(1, 2, 3, 32, 64)
    label = _two_class_label(32, 64)
    interim = loss.calibrate([(fake, real, label)], final=False)
    assert not loss.calibration_due(0) and loss.calibration_due(5)
    assert loss.metadata()["layer_weights_calibrated_at"] == 0
    assert not loss.metadata()["layer_weights_fixed"]
    final = loss.calibrate([(fake * 0.5, real, label)], final=True)
    assert final != interim and not loss.calibration_due(5)
    meta = loss.metadata()
    assert meta["layer_weights"] == final and meta["layer_weights_fixed"]
    assert meta["layer_weights_calibrated_at"] == 5 and meta["layer_weights_spec"] == "auto"


def test_explicit_weights_are_fixed_unless_recomputed_later():
    fixed = PerceptualLoss(PerceptualArgs("random", layer_weights="authors-512p"))
    assert not any(fixed.calibration_due(s) for s in (0, 1, 100))
    assert fixed.metadata()["layer_weights_calibrated_at"] is None
    later = PerceptualLoss(PerceptualArgs("random", layer_weights="authors-256p", calibrate_at=3))
    assert not later.calibration_due(0) and later.calibration_due(3)
    assert later.metadata()["layer_weights"]["conv5_2"] == pytest.approx(12.5)


def test_negative_calibration_step_is_refused():
    with pytest.raises(UserError, match="--calibrate-at -1"):
        perceptual_args_from_namespace(
            _namespace("--vgg-weights", "random", "--calibrate-at", "-1")
        )
