"""Simulated participants: the psychometric curve, the CLI, and small load runs end to end."""

from __future__ import annotations

import csv
import json
import math
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from crn.cli import main as crnkit
from crn.errors import UserError
from study.simulate import Curve, parse_curve

REPO = Path(__file__).resolve().parents[3]


def test_curve_is_logistic_in_log_exposure():
    curve = Curve(p_max=0.9, t50_ms=400.0, slope=0.5)
    assert curve.p(None) == pytest.approx(0.9)
    assert curve.p(400.0) == pytest.approx(0.7)
    z = (math.log(100.0) - math.log(400.0)) / 0.5
    assert curve.p(100.0) == pytest.approx(0.5 + 0.4 / (1 + math.exp(-z)))
    values = [curve.p(t) for t in (125, 250, 500, 1000, 8000)]
    assert values == sorted(values) and values[-1] < 0.9
    # A participant with a slower t50 and a weaker maximum is below the mean curve everywhere.
    assert curve.p(400.0, t50_scale=2.0, gain=0.5) < curve.p(400.0)
    assert Curve(p_max=0.2).p(None) == pytest.approx(0.2)


def test_parse_curve_reads_targets_and_refuses_nonsense():
    assert parse_curve("crn_vs_pix2pix:p_max=0.8,t50=250,s=0.6") == (
        "crn_vs_pix2pix",
        Curve(0.8, 250.0, 0.6),
    )
    assert parse_curve("p_max=0.6") == (None, Curve(p_max=0.6))
    for bad in ("p_max=1.5", "t50=0", "q=1", "s=abc"):
        with pytest.raises(UserError):
            parse_curve(bad)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_simulated_choices_follow_the_curve(study_toml, tmp_path, live_server, capsys):
    db = tmp_path / "sim.sqlite"
    server = live_server(study_toml, db)
    args = [
        "study", "simulate", server.url, "--participants", "6", "--concurrency", "3",
        "--spec", str(study_toml), "--curve", "p_max=1,t50=400,s=0.01",
        "--catch-accuracy", "1", "--participant-sd", "0", "--no-progress", "--seed", "1",
    ]  # fmt: skip
    assert crnkit(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["finished"] == 6 and summary["judgments_acknowledged"] == 6 * 16
    assert summary["choices"] == "psychometric curve" and summary["responses_5xx"] == 0
    out = tmp_path / "responses.csv"
    assert crnkit(["study", "export", "--db", str(db), "--out", str(out)]) == 0
    rows = _rows(out)
    assert len(rows) == 6 * 16
    for row in rows:
        correct = row["chosen_method"] == row["method_a"]
        if row["kind"] in ("catch", "practice") or row["exposure"] in ("1000", "unlimited"):
            assert correct, row  # p = 1 well above t50 and for catch/practice
    fast = [r["chosen_method"] == r["method_a"] for r in rows if r["exposure"] == "125"]
    assert 0 < sum(fast) < len(fast)  # at 125 ms, far below t50, choices are coin flips
    assert {r["timing_ok"] for r in rows if r["exposure"] != "unlimited"} <= {"0", "1"}


def test_simulate_refuses_bad_options(capsys):
    assert crnkit(["study", "simulate", "ftp://x", "--participants", "1"]) == 2
    assert crnkit(["study", "simulate", "http://x", "--participants", "0"]) == 2
    args = ["study", "simulate", "http://x", "--participants", "1", "--curve", "p_max=3"]
    assert crnkit(args) == 2
    assert "p_max" in capsys.readouterr().err


def test_load_benchmark_runs_small_and_keeps_every_answer():
    bench = REPO / "benchmarks" / "bench_study_load.py"
    args = [
        sys.executable, str(bench), "--participants", "6", "--trials", "14",
        "--pace-ms", "30", "--ramp-s", "0.1", "--workers", "1", "--threads", "4",
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [f["shape"] for f in lines] == ["closed", "paced"], done.stderr[-2000:]
    for figures in lines:
        assert figures["finished"] == 6 and figures["judgments_acknowledged"] == 6 * 14
        assert figures["responses_5xx"] == 0 and figures["integrity"]["ok"]
        assert figures["integrity"]["stored_equals_acknowledged"]
        assert set(figures["latency"]) >= {"enrol", "answer"}
        assert figures["client_cpu_s"] > 0 and figures["server_cpu_s"] > 0


def test_small_load_and_export_on_postgresql(image_sets, tmp_path, live_server, pg_url):
    from study_helpers import study_document, write_study_toml

    from study.db import make_engine
    from study.export import integrity_report, sqlalchemy_url
    from study.simulate import SimConfig, simulate

    url = pg_url
    study_id = f"pg-{secrets.token_hex(4)}"
    toml = write_study_toml(tmp_path / "pg.toml", study_document(image_sets, tmp_path, id=study_id))
    server = live_server(toml, url, extra=("--key-file", str(tmp_path / "pg.key")))
    result = simulate(server.url, SimConfig(participants=5, concurrency=5, progress=False))
    engine = make_engine(sqlalchemy_url(url))
    try:
        report = integrity_report(engine, study_id, result.acked)
    finally:
        engine.dispose()
    assert result.finished == 5 and report["ok"] and report["stored_equals_acknowledged"]
    out = tmp_path / "responses.csv"
    assert crnkit(["study", "export", "--db", url, "--out", str(out), "--study-id", study_id]) == 0
    assert len(_rows(out)) == 5 * 16
