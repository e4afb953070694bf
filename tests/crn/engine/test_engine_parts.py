"""Batch order, learning-rate schedule, args round trip, registry, metrics log."""

from __future__ import annotations

import pytest

from crn.engine.batches import EpochBatches
from crn.engine.interface import Phase
from crn.engine.metrics import MetricsLog
from crn.engine.registry import MODELS, get_model_class
from crn.engine.trainer import lr_factor
from crn.errors import UserError
from crn.models.crn import CRNModel


def test_epochs_are_seeded_permutations_and_shards_partition_the_global_batch():
    data = list(range(10))
    one = EpochBatches(data, 4, seed=7)
    assert one.steps_per_epoch == 2
    epoch0, epoch1 = one.epoch_batches(0), one.epoch_batches(1)
    assert epoch0 == EpochBatches(data, 4, seed=7).epoch_batches(0)
    assert epoch0 != epoch1 and len({i for batch in epoch0 for i in batch}) == 8
    shards = [EpochBatches(data, 2, seed=7, rank=r, world_size=2).epoch_batches(0) for r in (0, 1)]
    for step, batch in enumerate(epoch0):
        assert sorted(shards[0][step] + shards[1][step]) == sorted(batch)
    assert one.epoch_batches(0, first_step=1) == epoch0[1:]


def test_iteration_resumes_mid_epoch():
    data = [{"x": i} for i in range(5)]
    batches = EpochBatches(data, 2, seed=1)
    straight = [
        (s, e, b["x"].tolist()) for (s, e, b), _ in zip(batches.iterate(0), range(5), strict=False)
    ]
    resumed = [
        (s, e, b["x"].tolist()) for (s, e, b), _ in zip(batches.iterate(3), range(2), strict=False)
    ]
    assert straight[3:] == resumed


def test_too_few_images_for_a_batch():
    with pytest.raises(UserError, match="fewer than one batch"):
        EpochBatches([1, 2], 4, seed=0)


def test_linear_decay_schedule():
    constant = Phase("g", ("g",), lr=1.0)
    decaying = Phase("g", ("g",), lr=1.0, decay_start=0.5)
    assert lr_factor(constant, 99, 100) == 1.0
    assert [lr_factor(decaying, s, 100) for s in (0, 49, 50, 75, 100)] == [1.0, 1.0, 1.0, 0.5, 0.0]


def test_args_round_trip_through_a_dict(tiny_crn_args):
    model = CRNModel(tiny_crn_args)
    assert CRNModel.args_from_dict(model.args_to_dict()) == tiny_crn_args


def test_registry_is_explicit_and_lazy():
    assert MODELS["crn"] == "crn.models.crn:CRNModel"
    assert set(MODELS) >= {"crn", "pix2pix", "encdec", "fullres", "crn-l1"}
    assert get_model_class("crn") is CRNModel
    with pytest.raises(UserError, match="unknown model"):
        get_model_class("nope")


def test_metrics_log_truncates_after_a_step(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    for step in range(1, 5):
        log.append({"step": step, "kind": "train", "losses": {"total": float(step)}})
    log.append({"step": 5, "kind": "train", "losses": {"total": float("nan")}})
    assert log.read()[-1]["losses"]["total"] is None
    log.truncate_after(2)
    assert [r["step"] for r in log.read()] == [1, 2]


def test_crn_never_imports_baselines_and_cli_modules_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, crn.cli, crn.engine.registry, crn.commands.train, crn.commands.generate, "
        "crn.commands.calibrate\n"
        "print('torch' in sys.modules)\n"
        "import crn.models.crn, crn.engine.trainer\n"
        "print(sorted(m for m in sys.modules if m.startswith('baselines')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "[]"]
