"""`crnkit metrics` end to end: rows, caching, merging, and one-line errors for bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from metrics_helpers import noise_images, write_set

import metrics.fidkid
from crn.cli import main
from crn.imageset import load_imageset, set_digest


def run(*argv: object) -> int:
    return main(["metrics", *map(str, argv), "--no-progress"])


@pytest.fixture(scope="module")
def fid_run(sets_env, tmp_path_factory):
    """One FID/KID run of oracle and noise against real (random Inception), with a cache."""
    out = tmp_path_factory.mktemp("fidrun")
    code = run(
        "--real", sets_env / "real", "--sets", sets_env / "oracle", sets_env / "noise",
        "--inception-weights", "random", "--cache", out / "cache.sqlite",
        "--out", out / "metrics.csv", "--kid-subsets", 20, "--batch-size", 8,
    )  # fmt: skip
    assert code == 0
    return out


def test_fid_kid_rows_record_sets_weights_and_design(fid_run, sets_env):
    rows = pd.read_csv(fid_run / "metrics.csv")
    assert sorted(zip(rows["set"], rows["metric"], strict=True)) == [
        ("noise", "fid"),
        ("noise", "kid"),
        ("oracle", "fid"),
        ("oracle", "kid"),
    ]
    assert set(rows["weights"]) == {"random"}
    assert set(rows["weights_sha256"]) == {"random-inception-seed0"}
    assert set(rows["reference"]) == {"real"}
    real = load_imageset(sets_env / "real")
    assert set(rows["reference_digest"]) == {set_digest(real)}
    noise = rows[rows["set"] == "noise"].set_index("metric")
    assert noise.loc["fid", "set_digest"] == set_digest(load_imageset(sets_env / "noise"))
    assert noise.loc["kid", "params"] == "subsets=20;subset_size=4;seed=0"
    assert noise.loc["kid", "se"] > 0 and pd.isna(noise.loc["fid", "se"])
    assert (rows["n_images"] == 8).all() and (rows.loc[rows["metric"] == "fid", "value"] > 0).all()


def test_second_run_reuses_cached_features_and_keeps_other_rows(fid_run, sets_env, monkeypatch):
    before = pd.read_csv(fid_run / "metrics.csv")

    def no_network(*args, **kwargs):
        raise AssertionError("the network should not be loaded: every feature is cached")

    monkeypatch.setattr(metrics.fidkid, "load_inception", no_network)
    out = fid_run / "again.csv"
    before.iloc[[0]].assign(set="other", metric="fid").to_csv(out, index=False)
    code = run(
        "--real", sets_env / "real", "--sets", sets_env / "noise", "--metrics", "fid",
        "--inception-weights", "random", "--cache", fid_run / "cache.sqlite", "--out", out,
    )  # fmt: skip
    assert code == 0
    after = pd.read_csv(out)
    assert sorted(after["set"]) == ["noise", "other"]
    noise_before = before[(before["set"] == "noise") & (before["metric"] == "fid")]
    assert after.loc[after["set"] == "noise", "value"].item() == pytest.approx(
        noise_before["value"].item()
    )


def test_segmentation_and_diversity_rows_and_per_image_file(sets_env, split_env, segmenter_file):
    root, splits_path, _ = split_env
    out = root / "segdiv" / "metrics.csv"
    code = run(
        "--real", sets_env / "real", "--sets", sets_env / "oracle", "--seg-model", segmenter_file,
        "--splits", splits_path, "--variants", *(sets_env / f"crn-v{k}" for k in range(3)),
        "--vgg-weights", "random", "--no-cache", "--out", out, "--batch-size", 6,
        "--metrics", "seg,diversity",
    )  # fmt: skip
    assert code == 0
    rows = pd.read_csv(out).set_index(["set", "metric"])
    assert rows.loc[("oracle", "seg_miou"), "value"] == pytest.approx(1.0)
    assert rows.loc[("oracle", "seg_pixel_acc"), "value"] == pytest.approx(1.0)
    assert rows.loc[("real", "seg_miou"), "value"] < 1.0
    assert rows.loc[("oracle", "seg_miou"), "weights"] == "torchscript:nearest.pt"
    assert rows.loc[("crn", "diversity"), "params"] == "k=3;pairs=all"
    assert rows.loc[("crn", "diversity"), "value"] > 0
    images = pd.read_csv(out.with_name("metrics_images.csv"))
    per = images[(images["set"] == "oracle") & (images["metric"] == "seg_pixel_acc")]
    assert len(per) == 8 and (per["value"] == 1.0).all()
    assert len(images[(images["set"] == "crn") & (images["metric"] == "diversity")]) == 8
    assert "fid" not in {m for _, m in rows.index}


def error_line(capsys, *argv: object) -> str:
    assert run(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_bad_input_gets_one_line_errors(sets_env, split_env, tmp_path, capsys):
    _, _, splits = split_env
    real = sets_env / "real"
    small = dict(list(noise_images(splits, 1).items())[:5])
    write_set(tmp_path / "small", splits, "small", small)
    err = error_line(capsys, "--real", real, "--sets", tmp_path / "small", "--out", tmp_path / "m")
    assert "sets of different sizes: 'small' has 5 images, 'real' 8" in err
    stray = dict(noise_images(splits, 2), **{"zz-extra": next(iter(small.values()))})
    write_set(tmp_path / "stray", splits, "stray", stray)
    err = error_line(capsys, "--real", real, "--sets", tmp_path / "stray", "--out", tmp_path / "m")
    assert "1 image(s) have no real counterpart in 'real' (e.g. 'zz-extra')" in err
    write_set(tmp_path / "empty", splits, "empty", {})
    err = error_line(capsys, "--real", real, "--sets", tmp_path / "empty", "--out", tmp_path / "m")
    assert "image set 'empty' is empty" in err
    err = error_line(capsys, "--sets", real, "--metrics", "fid", "--out", tmp_path / "m")
    assert "--metrics fid needs --real and --sets" in err
    err = error_line(capsys, "--variants", sets_env / "oracle", "--out", tmp_path / "m")
    assert "'oracle' is not a variant set" in err
    assert not (tmp_path / "m").exists()


def test_bad_networks_get_one_line_errors(sets_env, split_env, tmp_path, capsys):
    _, splits_path, _ = split_env
    (tmp_path / "model.pt").write_bytes(b"junk")
    common = ["--real", sets_env / "real", "--splits", splits_path, "--out", tmp_path / "m"]
    err = error_line(capsys, *common, "--seg-model", tmp_path / "model.pt")
    assert "not a TorchScript model" in err
    weights = tmp_path / "w.pth"
    weights.write_bytes(json.dumps({"a": 1}).encode())
    err = error_line(
        capsys, "--real", sets_env / "real", "--sets", sets_env / "noise",
        "--inception-weights", weights, "--no-cache", "--out", tmp_path / "m",
    )  # fmt: skip
    assert "not a readable torch state dict" in err
