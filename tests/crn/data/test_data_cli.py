"""`crnkit data synth | split | check | export-real` through the real dispatcher."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_layouts import make_nyu, make_nyu_splits_mat, nyu_full_names, save_png

from crn import cli
from crn.data.splits import load_splits
from crn.fsutil import sha256_file
from crn.imageset import load_imageset, read_image


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_synth_split_check_export_real(tmp_path, capsys):
    data, splits_path, real = tmp_path / "synth", tmp_path / "splits.json", tmp_path / "real"
    code, out, err = run(
        capsys, "data", "synth", "--out", str(data), "--n", "10", "--size", "24x48", "--seed", "4"
    )
    assert code == 0 and "wrote 10 pairs" in out and "synth" in err  # tqdm bar on stderr
    code, out, _ = run(
        capsys,
        "data",
        "split",
        "--source",
        "synthetic",
        "--root",
        str(data),
        "--out",
        str(splits_path),
        "--val",
        "2",
        "--test",
        "3",
        "--seed",
        "1",
    )
    assert code == 0
    summary = json.loads(out)
    splits = load_splits(splits_path)
    assert summary["sha256"] == splits.sha256 and (summary["train"], summary["test"]) == (5, 3)
    code, out, _ = run(capsys, "data", "check", str(splits_path))
    assert code == 0 and "checked 10 pairs" in out and "0 problem" in out
    code, out, _ = run(
        capsys,
        "data",
        "export-real",
        "--splits",
        str(splits_path),
        "--split",
        "test",
        "--out",
        str(real),
    )
    assert code == 0
    imageset = load_imageset(real)
    assert (imageset.name, imageset.kind, imageset.dataset) == ("real", "real", "synthetic")
    assert imageset.split_sha256 == splits.sha256 and imageset.split == "test"
    assert imageset.ids == list(splits.test) and imageset.size == (24, 48)
    assert imageset.verify() == []
    first = splits.test[0]
    assert np.array_equal(
        read_image(imageset.path(first)), read_image(data / "images" / f"{first}.png")
    )


def test_export_resizes_to_the_split_size(tmp_path, capsys):
    data = tmp_path / "synth"
    run(capsys, "data", "synth", "--out", str(data), "--n", "4", "--size", "32x64")
    run(
        capsys,
        "data",
        "split",
        "--source",
        "synthetic",
        "--root",
        str(data),
        "--size",
        "16x32",
        "--out",
        str(tmp_path / "s.json"),
    )
    code, _, _ = run(
        capsys,
        "data",
        "export-real",
        "--splits",
        str(tmp_path / "s.json"),
        "--split",
        "train",
        "--out",
        str(tmp_path / "real"),
    )
    imageset = load_imageset(tmp_path / "real")
    assert code == 0 and imageset.size == (16, 32) and len(imageset.ids) == 3
    assert read_image(imageset.path(imageset.ids[0])).shape == (16, 32, 3)


def test_check_reports_every_problem(tmp_path, capsys, cityscapes_root):
    root, _ = cityscapes_root
    splits_path = tmp_path / "cs.json"
    code, _, _ = run(
        capsys,
        "data",
        "split",
        "--source",
        "cityscapes",
        "--root",
        str(root),
        "--out",
        str(splits_path),
        "--size",
        "12x16",
    )
    assert code == 0
    bad = np.full((12, 16), 7, np.uint8)
    bad[0, 0] = 99
    save_png(root / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png", bad)
    (root / "leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png").write_bytes(b"junk")
    (root / "gtFine/train/bochum/bochum_000000_000313_gtFine_labelIds.png").unlink()
    save_png(
        root / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png",
        np.zeros((6, 16), np.uint8),
    )
    code, out, err = run(capsys, "data", "check", str(splits_path))
    assert code == 1 and "4 problem(s)" in out and "checked 5 pairs" in out
    assert "label value 99" in err and "19 classes" in err
    assert "lindau_000000_000019_leftImg8bit.png: cannot decode image" in err
    assert "label of 'bochum_000000_000313' is missing" in err
    assert "label is 6x16 but its photo" in err


def test_split_records_source_options(tmp_path, capsys, cityscapes_root):
    root, _ = cityscapes_root
    code, _, _ = run(
        capsys,
        "data",
        "split",
        "--source",
        "cityscapes",
        "--root",
        str(root),
        "--labels",
        "ids",
        "--out",
        str(tmp_path / "s.json"),
    )
    data = json.loads((tmp_path / "s.json").read_text())
    assert code == 0 and data["options"] == {"labels": "ids"} and len(data["classes"]) == 35


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["synth", "--out", "{tmp}/x", "--n", "2", "--size", "big"], "size 'big' is not HxW"),
        (["synth", "--out", "{tmp}/x", "--n", "0"], "--n must be between 1"),
        (
            ["split", "--source", "kitti", "--root", "{tmp}", "--out", "{tmp}/s.json"],
            "unknown data source 'kitti'",
        ),
        (
            ["split", "--source", "synthetic", "--root", "{tmp}/none", "--out", "{tmp}/s.json"],
            "data root not found",
        ),
        (
            [
                "split",
                "--source",
                "synthetic",
                "--root",
                "{tmp}",
                "--labels",
                "ids",
                "--out",
                "{tmp}/s.json",
            ],
            "--labels applies to the cityscapes source only",
        ),
        (["check", "{tmp}/missing.json"], "splits file not found"),
        (
            ["export-real", "--splits", "{tmp}/missing.json", "--out", "{tmp}/r"],
            "splits file not found",
        ),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run(capsys, "data", *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("crnkit data: error:")


def test_bad_split_leaves_an_existing_splits_file_alone(tmp_path, capsys, folders_root):
    root, _ = folders_root
    target = tmp_path / "s.json"
    run(capsys, "data", "split", "--source", "folders", "--root", str(root), "--out", str(target))
    before = sha256_file(target)
    code, _, _ = run(
        capsys,
        "data",
        "split",
        "--source",
        "folders",
        "--root",
        str(root),
        "--out",
        str(target),
        "--test",
        "50",
    )
    assert code == 2 and sha256_file(target) == before


def test_every_subcommand_has_an_example(capsys):
    for sub in ("synth", "split", "check", "export-real"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["data", sub, "--help"])
        assert exc.value.code == 0
        assert "example" in capsys.readouterr().out


def test_split_nyu_official_split_with_the_40_classes(tmp_path, capsys):
    mat = tmp_path / "nyu_depth_v2_labeled.mat"
    make_nyu(mat, n=5, names=nyu_full_names(), h=24, w=32)
    ids = make_nyu_splits_mat(tmp_path / "splits.mat", train=[1, 3, 4], test=[2])
    out = tmp_path / "nyu.json"
    argv = ["data", "split", "--source", "nyu", "--root", str(mat), "--mapping", "nyu40"]
    code, text, _ = run(capsys, *argv, "--ids-from", str(ids), "--out", str(out))
    summary = json.loads(text)
    assert code == 0 and (summary["train"], summary["test"], summary["left_out"]) == (3, 1, 1)
    data = json.loads(out.read_text())
    assert data["size"] == [256, 320] and data["fit"] == "crop" and len(data["classes"]) == 40
    assert data["params"]["ids_from"] == str(ids) and data["test"] == ["nyu_0001"]
    code, text, _ = run(capsys, "data", "check", str(out))
    assert code == 0 and "checked 4 pairs" in text


def test_split_cityscapes_authors_labels(tmp_path, capsys, cityscapes_root):
    root, _ = cityscapes_root
    out = tmp_path / "cs.json"
    code, _, _ = run(
        capsys,
        "data",
        "split",
        "--source",
        "cityscapes",
        "--root",
        str(root),
        "--labels",
        "authors",
        "--out",
        str(out),
    )
    data = json.loads(out.read_text())
    assert code == 0 and data["options"] == {"labels": "authors"} and len(data["classes"]) == 19


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"classes": ["a"], "map": [1]}, "'map' must be an object"),
        ({"classes": "wall", "map": {"1": 1}}, "'classes' must be a list"),
    ],
)
def test_bad_nyu_mapping_is_one_line(tmp_path, capsys, nyu_mat, mapping, message):
    path, _, _ = nyu_mat
    (tmp_path / "map.json").write_text(json.dumps(mapping))
    code, _, err = run(
        capsys,
        "data",
        "split",
        "--source",
        "nyu",
        "--root",
        str(path),
        "--mapping",
        str(tmp_path / "map.json"),
        "--out",
        str(tmp_path / "s.json"),
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mapping", "nyu40"], "--mapping applies to the nyu source only"),
        (["--ids-from", "{tmp}/none.txt"], "id list not found"),
        (["--test", "1", "--ids-from", "{tmp}/ids.txt"], "--test does not apply with --ids-from"),
    ],
)
def test_split_option_errors_are_one_line(tmp_path, capsys, folders_root, extra, message):
    root, _ = folders_root
    (tmp_path / "ids.txt").write_text("train img0\n")
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    code, _, err = run(
        capsys,
        "data",
        "split",
        "--source",
        "folders",
        "--root",
        str(root),
        "--out",
        str(tmp_path / "s.json"),
        *extra,
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0]
