"""The README's main job, end to end at a tiny size: every artefact it promises exists."""

import csv
import json
import sqlite3

import pytest
import torch

from crn import cli
from crn.imageset import load_imageset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert cli.main(["demo", "--out", str(out), "--preset", "tiny"]) == 0
    return out


def test_splits_and_checkpoints(demo_out):
    splits = json.loads((demo_out / "splits.json").read_text())
    assert splits["source"] == "synthetic" and len(splits["test"]) == 6
    for model in ("crn", "pix2pix", "encdec"):
        assert (demo_out / "runs" / model / "last.pt").is_file()
    from crn.demo_config import PRESETS

    crn = torch.load(demo_out / "runs" / "crn" / "last.pt", map_location="cpu", weights_only=False)
    assert crn["model_args"]["lr"] == PRESETS["tiny"].crn_lr == 5e-4  # the demo's --lr reached CRN


def test_image_sets_share_the_test_ids(demo_out):
    sha = json.loads((demo_out / "splits.json").read_text())["sha256"]
    real = load_imageset(demo_out / "sets" / "real")
    assert real.kind == "real" and real.verify() == []
    for name in ("crn", "pix2pix", "encdec"):
        generated = load_imageset(demo_out / "sets" / name)
        assert generated.ids == real.ids
        assert generated.split_sha256 == sha
        assert generated.verify() == []
    assert load_imageset(demo_out / "sets" / "real-blur").kind == "catch"


def test_database_rows_match_the_exported_csv(demo_out):
    study = demo_out / "study"
    with sqlite3.connect(study / "study.sqlite") as db:
        stored = db.execute("SELECT COUNT(*) FROM response").fetchone()[0]
        participants = db.execute("SELECT COUNT(*) FROM participant").fetchone()[0]
    with open(study / "responses.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert participants == 6
    assert stored == len(rows) > 0
    assert {r["kind"] for r in rows} == {"practice", "test", "catch"}
    exposures = {r["exposure"] for r in rows if r["kind"] == "test"}
    assert "unlimited" in exposures and "125" in exposures
    assert json.loads((study / "study.json").read_text())["study_id"] == "crnkit-demo"


def test_report_files(demo_out):
    report = demo_out / "report"
    html = (report / "index.html").read_text()
    assert "crn" in html and "random weights" in html
    for name in ("rates.csv", "table.md", "table.tex", "table.csv", "exposure.png"):
        assert (report / name).stat().st_size > 0, name


def test_metrics_and_their_agreement_with_people(demo_out):
    with open(demo_out / "metrics" / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    pairs = {(r["set"], r["metric"]) for r in rows}
    for name in ("crn", "pix2pix", "encdec"):
        assert {(name, "fid"), (name, "kid")} <= pairs
    assert ("crn", "diversity") in pairs
    report = demo_out / "report"
    assert "FID" in (report / "metrics_table.md").read_text()
    assert "Automatic metrics and how they agree with people" in (report / "index.html").read_text()


def test_serve_command_takes_a_token_that_begins_with_a_dash(tmp_path):
    """token_urlsafe() may start with '-': the demo's serve command must still parse it."""
    import argparse

    from crn.commands.demo import serve_command
    from study.commands.serve import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = serve_command(tmp_path, 8123, "-starts-with-a-dash-0123")[5:]
    ns = parser.parse_args(argv)
    assert ns.admin_token == "-starts-with-a-dash-0123"
    assert ns.port == 8123


def test_stage_times_are_printed_per_stage_and_in_all(capsys, monkeypatch):
    """The demo's summary gives each announced stage's wall time and the total."""
    from crn.commands import demo

    clock = iter([0.0, 2.5, 10.0])
    monkeypatch.setattr(demo.time, "monotonic", lambda: next(clock))
    demo._STAGES.clear()
    demo._say("1/7 first")
    demo._say("2/7 second")
    demo._stage_times()
    out = capsys.readouterr().out
    assert "    2.5 s  1/7 first" in out and "    7.5 s  2/7 second" in out
    assert "   10.0 s  in all (0.2 min)" in out
