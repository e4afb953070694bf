"""The shared training loop: exact resume, divergence, Ctrl-C, logs, checkpoints."""

from __future__ import annotations

import signal

import pytest
import torch

from crn.engine.checkpoint import build_model_from_checkpoint, load_checkpoint
from crn.engine.config import TrainConfig
from crn.engine.metrics import MetricsLog
from crn.engine.trainer import RunData, Trainer, TrainingDivergedError
from crn.models.crn import CRNModel


def _config(**changes):
    base = dict(size=(32, 64), steps=6, batch_size=2, seed=3, device="cpu", log_every=1)
    return TrainConfig(**{**base, **changes})


def _train(args, data, out, config, **kw):
    return Trainer(CRNModel, args, config, out, data, progress=False, **kw).run()


def test_resume_continues_exactly(tmp_path, tiny_crn_args, tiny_pairs):
    # 6 images, batch 2: 3 steps per epoch, so the resumed half crosses an epoch boundary
    data = RunData(tiny_pairs(6, seed=1), tiny_pairs(1, seed=2), "f" * 64, ())
    _train(tiny_crn_args, data, tmp_path / "straight", _config(steps=4))
    _train(tiny_crn_args, data, tmp_path / "split", _config(steps=2))
    half = load_checkpoint(tmp_path / "split" / "last.pt")
    assert half.step == 2
    _train(tiny_crn_args, data, tmp_path / "split", _config(steps=4), resume_from=half)
    straight = load_checkpoint(tmp_path / "straight" / "last.pt")
    resumed = load_checkpoint(tmp_path / "split" / "last.pt")
    assert resumed.step == straight.step == 4
    assert straight.weights.keys() == resumed.weights.keys()
    for key, value in straight.weights.items():
        assert torch.equal(value, resumed.weights[key]), key
    assert resumed.epoch == 1
    steps = [
        r["step"]
        for r in MetricsLog(tmp_path / "split" / "metrics.jsonl").read()
        if r["kind"] == "train"
    ]
    assert steps == [1, 2, 3, 4]


def test_checkpoint_records_contract_fields(tmp_path, tiny_crn_args, tiny_data):
    result = _train(tiny_crn_args, tiny_data, tmp_path / "run", _config(steps=2))
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.model == "crn"
    assert ckpt.split_sha256 == "f" * 64
    assert ckpt.model_args["width"] == 0.05
    assert ckpt.train_config["batch_size"] == 2
    assert set(ckpt.optimizers) == {"generator"}
    assert ckpt.metadata["vgg_weights"] == "random"
    assert set(ckpt.metadata["layer_weights"]) == {
        "input",
        "conv1_2",
        "conv2_2",
        "conv3_2",
        "conv4_2",
        "conv5_2",
    }
    assert "total" in ckpt.last_losses and ckpt.last_losses["total"] > 0
    assert not any(k.startswith("perceptual.vgg.") for k in ckpt.weights)
    assert ckpt.image_size == (32, 64) and ckpt.num_outputs == 2
    model, _ = build_model_from_checkpoint(result.checkpoint)
    label = tiny_data.val_set[0]["label"][None]
    with torch.no_grad():
        out = model.generate(label)
    assert out.shape == (1, 2, 3, 32, 64)
    # auto layer weights were calibrated once and logged
    calib = [
        r
        for r in MetricsLog(tmp_path / "run" / "metrics.jsonl").read()
        if r["kind"] == "calibration"
    ]
    assert len(calib) == 1
    assert calib[0]["layer_weights"] == pytest.approx(ckpt.metadata["layer_weights"])


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_crn_args, tiny_pairs):
    data = RunData(tiny_pairs(8, seed=1, nan_at=5), tiny_pairs(2, seed=2), "f" * 64, ())
    out = tmp_path / "run"
    # seed 3's epoch-0 order reaches image 5 after a checkpoint at step 1
    config = _config(steps=8, batch_size=1, checkpoint_every=1)
    with pytest.raises(TrainingDivergedError) as err:
        _train(tiny_crn_args, data, out, config)
    message = str(err.value)
    assert "became nan" in message and "last good checkpoint" in message
    kept = load_checkpoint(out / "last.pt")
    assert f"(step {kept.step})" in message
    assert all(torch.isfinite(v).all() for v in kept.weights.values() if v.is_floating_point())


def test_ctrl_c_saves_a_checkpoint_and_stops(tmp_path, tiny_crn_args, tiny_data):
    def interrupt(step, losses):
        if step == 2:
            signal.raise_signal(signal.SIGINT)

    previous = signal.getsignal(signal.SIGINT)
    result = _train(tiny_crn_args, tiny_data, tmp_path / "run", _config(steps=6), on_step=interrupt)
    assert result.interrupted and result.step == 2
    assert load_checkpoint(tmp_path / "run" / "last.pt").step == 2
    assert signal.getsignal(signal.SIGINT) is previous


def test_validation_l1_is_logged(tmp_path, tiny_crn_args, tiny_data):
    _train(tiny_crn_args, tiny_data, tmp_path / "run", _config(steps=2, val_every=1))
    vals = [r for r in MetricsLog(tmp_path / "run" / "metrics.jsonl").read() if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [0, 1, 2]
    assert all(0 < r["val_l1_best"] <= r["val_l1"] <= 1 for r in vals)


def test_sample_grid_shows_label_outputs_and_real(tmp_path, tiny_crn_args, tiny_data):
    from crn.data.colorize import colorize
    from crn.imageset import read_image

    _train(tiny_crn_args, tiny_data, tmp_path / "run", _config(steps=2, sample_every=2))
    grid = read_image(tmp_path / "run" / "samples" / "step_000002.png")
    # 2 rows of 32 px, 1 + k(2) + 1 tiles of 64 px, 2-px gutters
    assert grid.shape == (2 * 32 + 2, 4 * 64 + 3 * 2, 3)
    first = tiny_data.val_set[0]
    label_rgb = colorize(first["label_index"].numpy(), tiny_data.classes)
    assert (grid[:32, :64] == label_rgb).all()
    real = (first["photo"].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    assert (grid[:32, -64:] == real).all()
    assert (grid[32:34] == 255).all()
