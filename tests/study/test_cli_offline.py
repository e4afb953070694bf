"""Offline study commands through the `crnkit` entry point: init, validate, imageset, payments."""

from __future__ import annotations

import csv
import json
import tomllib

import numpy as np
import pytest
from PIL import Image
from study_helpers import image_ids

from crn.cli import main
from crn.imageset import load_imageset
from study.platforms import hash_worker_id


def test_init_scaffolds_a_spec_that_validates(tmp_path, image_sets, capsys):
    out = tmp_path / "study.toml"
    folders = [str(image_sets[n]) for n in ("real", "crn", "pix2pix", "real-blur")]
    args = [
        "study",
        "init",
        "--sets",
        *folders,
        "--out",
        str(out),
        "--exposures",
        "125,1000,unlimited",
    ]
    assert main(args) == 0
    doc = tomllib.loads(out.read_text())
    assert doc["sets"]["crn"] == "sets/crn"
    assert [(c["a"], c["b"]) for c in doc["comparisons"]] == [("crn", "real"), ("crn", "pix2pix")]
    assert doc["comparisons"][0]["exposures"] == [125, 1000, "unlimited"]
    assert doc["catch"] == {
        "trials": 4,
        "real": "real",
        "bad": "real-blur",
        "exposure": "unlimited",
        "task": "paired",
    }
    assert doc["study"]["trials_per_participant"] == 12 and doc["study"]["id"] == "synthetic-crn"
    # Native 8×16 images are shown enlarged by a whole factor, at least 384 CSS px wide.
    assert (doc["display"]["width"], doc["display"]["height"]) == (384, 192)
    capsys.readouterr()
    assert main(["study", "validate", str(out)]) == 0
    text = capsys.readouterr().out
    assert "crn_vs_pix2pix: crn vs pix2pix, 12 shared ids, exposures 125, 1000, unlimited" in text
    assert "trials per participant: 20 = 4 practice + 12 test + 4 catch" in text
    assert "cells: 6" in text and text.rstrip().endswith("ok")


def test_init_crn_paper_design_in_one_command(tmp_path, image_sets, capsys):
    out = tmp_path / "study.toml"
    folders = [str(image_sets[n]) for n in ("real", "crn", "pix2pix", "real-blur")]
    args = ["study", "init", "--design", "crn-paper", "--focal", "crn", "--trials", "32"]
    assert main([*args, "--sets", *folders, "--out", str(out)]) == 0
    doc = tomllib.loads(out.read_text())
    assert [(c["a"], c["b"], c["exposures"]) for c in doc["comparisons"]] == [
        ("crn", "pix2pix", ["unlimited"]),
        ("crn", "real", [125, 250, 500, 1000, 2000, 4000, 8000]),
        ("pix2pix", "real", [125, 250, 500, 1000, 2000, 4000, 8000]),
    ]
    assert doc["study"]["trials_per_participant"] == 32
    assert doc["practice"]["trials"] == doc["catch"]["trials"] == 4
    capsys.readouterr()
    assert main(["study", "validate", str(out)]) == 0
    assert "trials per participant: 40 = 4 practice + 32 test + 4 catch" in capsys.readouterr().out
    assert main([*args[:-1], "0", "--sets", *folders, "--out", str(out), "--force"]) == 2
    assert "--trials 0: expected a positive number" in capsys.readouterr().err
    bad = ["--strongest", "real", "--sets", *folders, "--out", str(out), "--force"]
    assert main([*args, *bad]) == 2
    assert "--strongest real: not a generated set (pix2pix)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("design", "exposure", "trials"), [("hype", "unlimited", 20), ("hype-time", "staircase", 60)]
)
def test_init_hype_designs(tmp_path, image_sets, capsys, design, exposure, trials):
    out = tmp_path / "study.toml"
    folders = [str(image_sets[n]) for n in ("real", "crn", "pix2pix", "real-blur")]
    assert main(["study", "init", "--design", design, "--sets", *folders, "--out", str(out)]) == 0
    doc = tomllib.loads(out.read_text())
    assert "comparisons" not in doc and doc["catch"]["task"] == "real_fake"
    assert [(t["method"], t["exposure"], t["trials"]) for t in doc["real_fake"]] == [
        ("crn", exposure, trials),
        ("pix2pix", exposure, trials),
    ]
    assert doc["display"]["min_window_width"] == 484
    capsys.readouterr()
    assert main(["study", "validate", str(out), "--no-verify"]) == 0
    text = capsys.readouterr().out
    assert f"crn_real_fake: crn judged real or fake against real, {exposure}" in text


def test_init_refuses_to_overwrite_and_checks_its_options(tmp_path, image_sets, capsys):
    out = tmp_path / "study.toml"
    out.write_text("keep me")
    sets = ["--sets", str(image_sets["real"]), str(image_sets["crn"])]
    assert main(["study", "init", *sets, "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == "keep me"
    assert main(["study", "init", *sets, "--out", str(out), "--exposures", "125,-5"]) == 2
    assert "--exposures: expected a whole number of milliseconds" in capsys.readouterr().err
    assert main(["study", "init", *sets, "--out", str(out), "--exposures", "125,16"]) == 2
    assert "--exposures: expected at least 34 ms" in capsys.readouterr().err
    assert main(["study", "init", *sets, "--out", str(out), "--focal", "gan"]) == 2
    assert "--focal gan: not one of the sets (real, crn)" in capsys.readouterr().err
    assert main(["study", "init", *sets, "--out", str(out), "--force", "--id", "s1"]) == 0
    doc = tomllib.loads(out.read_text())
    assert doc["study"]["id"] == "s1" and "catch" not in doc and len(doc["comparisons"]) == 1


def test_validate_lists_every_problem(tmp_path, study_toml, image_sets, capsys):
    text = study_toml.read_text().replace('b = "pix2pix"', 'b = "pix2px"')
    study_toml.write_text(text.replace("seed = 7", "seed = -7"))
    assert main(["study", "validate", str(study_toml)]) == 1
    err = capsys.readouterr().err
    assert f"{study_toml}: 2 problem(s):" in err
    assert "study.seed: expected a non-negative integer, got -7" in err
    assert "comparisons[0].b: expected the name of a set in [sets]" in err


def test_validate_reports_changed_images(study_toml, image_sets, capsys):
    (image_sets["pix2pix"] / "images" / "img02.png").write_bytes(b"x")
    assert main(["study", "validate", str(study_toml)]) == 1
    assert "img02.png does not match its recorded sha256" in capsys.readouterr().err
    assert main(["study", "validate", str(study_toml), "--no-verify"]) == 0


def test_imageset_import_and_degrade(tmp_path, image_sets, capsys):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    for image_id in image_ids()[:6]:
        Image.fromarray(np.zeros((8, 16, 3), np.uint8)).save(theirs / f"{image_id}.jpg")
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"source": "synthetic", "size": [8, 16], "test": image_ids()}))
    args = ["imageset", "import", str(theirs), "--name", "spade", "--splits", str(splits)]
    assert main([*args, "--out", str(tmp_path / "spade")]) == 2
    assert "6 of 12 'test' ids have no image" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "spade"), "--allow-missing"]) == 0
    assert "imported 6 images as set 'spade'" in capsys.readouterr().out
    assert load_imageset(tmp_path / "spade").kind == "imported"
    out = tmp_path / "noisy"
    degrade = ["imageset", "degrade", "--from", str(image_sets["crn"]), "--how", "noise"]
    assert main([*degrade, "--out", str(out)]) == 0
    noisy = load_imageset(out)
    assert (noisy.name, noisy.kind, len(noisy.images)) == ("crn-noise", "catch", 12)
    assert main([*degrade, "--out", str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err


def test_payments_command_writes_decisions(tmp_path, capsys):
    key = bytes(range(32))
    (tmp_path / "study-secret.key").write_bytes(key)  # where older versions kept it: still found
    (tmp_path / "study.json").write_text(json.dumps({"exclusions": {"min_catch_accuracy": 0.5}}))
    worker_hash = hash_worker_id(key, "prolific", "W1")
    (tmp_path / "participants.csv").write_text(
        "participant_id,platform,status,trials_answered,trials_total,catch_correct,catch_total,"
        f"completion_code,started_at,finished_at,worker_hash\np1,prolific,finished,8,8,1,2,C,,,{worker_hash}\n"
    )
    (tmp_path / "subs.csv").write_text("Participant id,Status\nW1,AWAITING REVIEW\nW2,RETURNED\n")
    args = ["study", "payments", "--participants", str(tmp_path / "participants.csv")]
    args += ["--submissions", str(tmp_path / "subs.csv"), "--bonus-for-complete", "0.5"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["approve"], summary["no-data"], summary["bonus_total"]) == (1, 1, 0.5)
    with open(tmp_path / "decisions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["worker_id"], r["decision"], r["bonus"]) for r in rows] == [
        ("W1", "approve", "0.50"),
        ("W2", "no-data", ""),
    ]
    assert main([*args, "--min-catch-accuracy", "0.9"]) == 0
    with open(tmp_path / "decisions.csv", newline="") as fh:
        assert next(csv.DictReader(fh))["decision"] == "reject"
    assert main([*args, "--key-file", str(tmp_path / "none.key")]) == 2
    assert "key file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["study", "init", "--help"],
        ["study", "validate", "--help"],
        ["study", "payments", "--help"],
        ["imageset", "import", "--help"],
        ["imageset", "degrade", "--help"],
    ],
)
def test_help_has_an_example(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "example:" in capsys.readouterr().out
