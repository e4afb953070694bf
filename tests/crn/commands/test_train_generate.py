"""`crnkit train`, `crnkit generate` and `crnkit calibrate` end to end on tiny synthetic data."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from crn import cli
from crn.data.splits import load_splits, save_splits, split_hash
from crn.engine.checkpoint import load_checkpoint
from crn.imageset import load_imageset


def _train_argv(splits, out, *extra):
    return [
        "train",
        "crn",
        "--splits",
        str(splits),
        "--out",
        str(out),
        "--width",
        "0.05",
        "--k",
        "2",
        "--no-progress",
        *extra,
    ]


def test_missing_vgg_weights_stop_with_a_clear_message(synth_splits, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert cli.main(_train_argv(synth_splits, tmp_path / "run", "--steps", "1")) == 2
    err = capsys.readouterr().err
    assert "VGG-19 weights not found" in err and "vgg19-dcbb9e9d.pth" in err
    assert "--vgg-weights random" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_train_records_the_run_and_refuses_to_overwrite_it(trained_run, synth_splits, capsys):
    ckpt = load_checkpoint(trained_run / "last.pt")
    assert ckpt.step == 3 and ckpt.model == "crn"
    assert ckpt.split_sha256 == load_splits(synth_splits).sha256
    assert ckpt.metadata["vgg_weights"] == "random"
    assert ckpt.model_args["num_label_channels"] == len(load_splits(synth_splits).classes) + 1
    argv = _train_argv(synth_splits, trained_run, "--steps", "5", "--vgg-weights", "random")
    assert cli.main(argv) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert load_checkpoint(trained_run / "last.pt").step == 3


def test_resume_extends_a_run(trained_run, synth_splits, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    assert (
        cli.main(
            [
                "train",
                "crn",
                "--splits",
                str(synth_splits),
                "--out",
                str(copy),
                "--resume",
                "--steps",
                "4",
                "--no-progress",
            ]
        )
        == 0
    )
    assert load_checkpoint(copy / "last.pt").step == 4


def test_generate_writes_one_set_per_output_with_vgg_provenance(
    trained_run, synth_splits, tmp_path
):
    out = tmp_path / "sets" / "crn"
    argv = [
        "generate",
        "--checkpoint",
        str(trained_run / "last.pt"),
        "--splits",
        str(synth_splits),
        "--out",
        str(out),
        "--variant",
        "all",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    splits = load_splits(synth_splits)
    sets = [load_imageset(tmp_path / "sets" / f"crn-v{i}") for i in range(2)]
    for i, imageset in enumerate(sets):
        assert imageset.name == f"crn-v{i}" and imageset.kind == "generated"
        assert imageset.ids == sorted(splits.test)
        assert imageset.split_sha256 == splits.sha256 and imageset.size == (32, 64)
        assert imageset.extra["vgg_weights"] == "random" and imageset.extra["variant"] == i
        assert imageset.verify() == []
    a = sets[0].path(sets[0].ids[0]).read_bytes()
    b = sets[1].path(sets[1].ids[0]).read_bytes()
    assert a != b  # the diversity outputs differ


def test_generate_refuses_other_splits(trained_run, synth_splits, tmp_path, capsys):
    splits = load_splits(synth_splits)
    changed = dataclasses.replace(splits, test=splits.test[:1])
    sha = split_hash(
        *(getattr(changed, f) for f in ("source", "size", "classes", "options")),
        changed.train,
        changed.val,
        changed.test,
    )
    other = tmp_path / "other.json"
    save_splits(dataclasses.replace(changed, sha256=sha), other)
    argv = [
        "generate",
        "--checkpoint",
        str(trained_run / "last.pt"),
        "--splits",
        str(other),
        "--out",
        str(tmp_path / "x"),
        "--no-progress",
    ]
    assert cli.main(argv) == 2
    assert "trained on splits" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_calibrate_writes_weights_that_train_accepts(trained_run, synth_splits, tmp_path):
    weights = tmp_path / "weights.json"
    argv = [
        "calibrate",
        "--checkpoint",
        str(trained_run / "last.pt"),
        "--splits",
        str(synth_splits),
        "--batches",
        "2",
        "--out",
        str(weights),
    ]
    assert cli.main(argv) == 0
    result = json.loads(weights.read_text())
    assert result["batches"] == 2
    for name, value in result["layer_weights"].items():
        assert value * result["term_means"][name] == pytest.approx(1.0)
    out = tmp_path / "run2"
    assert (
        cli.main(
            _train_argv(
                synth_splits,
                out,
                "--steps",
                "1",
                "--vgg-weights",
                "random",
                "--layer-weights",
                str(weights),
            )
        )
        == 0
    )
    stored = load_checkpoint(out / "last.pt").metadata["layer_weights"]
    assert stored == {k: torch.tensor(v).item() for k, v in result["layer_weights"].items()}


def test_init_from_a_lower_resolution_run(trained_run, synth_splits, tmp_path):
    out = tmp_path / "hi"
    argv = _train_argv(
        synth_splits,
        out,
        "--size",
        "64x128",
        "--steps",
        "2",
        "--vgg-weights",
        "random",
        "--init-from",
        str(trained_run / "last.pt"),
        "--train-modules",
        "new",
    )
    assert cli.main(argv) == 0
    low = load_checkpoint(trained_run / "last.pt").weights
    high = load_checkpoint(out / "last.pt")
    assert high.image_size == (64, 128) and high.model_args["frozen_modules"] == 4
    for key, value in low.items():
        if key.startswith("generator.blocks."):
            assert torch.equal(high.weights[key], value), key  # loaded, then frozen
    assert "generator.blocks.4.conv1.weight" in high.weights


def test_help_lists_models_and_examples(capsys):
    assert cli.main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "crn, pix2pix, encdec, fullres, crn-l1" in out and "torchrun" in out
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "crn", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--vgg-weights" in out and "--init-from" in out and "examples:" in out


def test_resume_refuses_a_finished_run(trained_run, synth_splits, capsys):
    argv = ["train", "crn", "--splits", str(synth_splits), "--out", str(trained_run), "--resume"]
    assert cli.main(argv) == 2
    assert "already at step 3" in capsys.readouterr().err
