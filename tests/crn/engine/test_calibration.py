"""Layer weights calibrated at a chosen step of a running training, fixed and recorded."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from crn.engine.checkpoint import load_checkpoint
from crn.engine.config import TrainConfig
from crn.engine.metrics import MetricsLog
from crn.engine.trainer import RunData, Trainer
from crn.losses import LOSS_LAYERS
from crn.models.crn import CRNModel


def _config(**changes):
    base = dict(size=(32, 64), steps=4, batch_size=2, seed=3, device="cpu", log_every=1)
    return TrainConfig(**{**base, **changes})


def _args(tiny_crn_args, **perceptual):
    return dataclasses.replace(
        tiny_crn_args, perceptual=dataclasses.replace(tiny_crn_args.perceptual, **perceptual)
    )


def _train(args, data, out, config, **kw):
    return Trainer(CRNModel, args, config, out, data, progress=False, **kw).run()


def _calibrations(run):
    return [r for r in MetricsLog(run / "metrics.jsonl").read() if r["kind"] == "calibration"]


def test_explicit_weights_until_the_step_then_calibrated(tmp_path, tiny_crn_args, tiny_data):
    args = _args(tiny_crn_args, layer_weights="authors-256p", calibrate_at=1)
    _train(args, tiny_data, tmp_path / "run", _config(steps=2))
    records = _calibrations(tmp_path / "run")
    assert [(r["step"], r["final"]) for r in records] == [(1, True)]
    meta = load_checkpoint(tmp_path / "run" / "last.pt").metadata
    assert meta["layer_weights"] == pytest.approx(records[0]["layer_weights"])
    assert meta["layer_weights"]["conv5_2"] != pytest.approx(12.5)
    assert meta["layer_weights_calibrated_at"] == 1


def test_weights_recomputed_at_the_step_then_fixed_and_resume_is_exact(
    tmp_path, tiny_crn_args, tiny_pairs
):
    data = RunData(tiny_pairs(6, seed=1), tiny_pairs(1, seed=2), "f" * 64, ())
    args = _args(tiny_crn_args, calibrate_at=2)
    _train(args, data, tmp_path / "straight", _config(steps=4))
    records = _calibrations(tmp_path / "straight")
    assert [(r["step"], r["final"]) for r in records] == [(0, False), (2, True)]
    assert records[0]["layer_weights"] != pytest.approx(records[1]["layer_weights"])
    straight = load_checkpoint(tmp_path / "straight" / "last.pt")
    meta = straight.metadata
    assert meta["layer_weights"] == pytest.approx(records[1]["layer_weights"])
    assert meta["layer_weights_calibrated_at"] == 2 and meta["layer_weights_fixed"]
    assert meta["layer_weights_spec"] == "auto"
    # Resumed before the step, or from the checkpoint written at it: calibrated once, and
    # the weights equal the straight run's.
    for split_at in (1, 2):
        run = tmp_path / f"split{split_at}"
        _train(args, data, run, _config(steps=split_at))
        half = load_checkpoint(run / "last.pt")
        _train(args, data, run, _config(steps=4), resume_from=half)
        resumed = load_checkpoint(run / "last.pt")
        for key, value in straight.weights.items():
            assert torch.equal(value, resumed.weights[key]), (split_at, key)
        assert [r["step"] for r in _calibrations(run)] == [0, 2]


def test_calibration_mid_epoch_keeps_the_running_epochs_flips(tmp_path, tiny_crn_args, tiny_pairs):
    class Recording(tiny_pairs):
        """Remembers the epoch each training item was read in."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.reads = []

        def __getitem__(self, i):
            self.reads.append(self.epoch)
            return super().__getitem__(i)

    train = Recording(6, seed=1)
    data = RunData(train, None, "f" * 64, ())
    args = _args(tiny_crn_args, calibrate_at=4, calibration_batches=1)
    # 3 steps per epoch: the calibration after step 4 falls inside epoch 1
    _train(args, data, tmp_path / "run", _config(steps=5))
    assert set(_calibrations(tmp_path / "run")[1]["layer_weights"]) == set(LOSS_LAYERS)
    assert train.reads[-2:] == [1, 1]  # step 5 still read epoch 1's items
