"""Real-or-fake tasks (HYPE∞, HYPE_time): spec, scheduling balance, serving, staircase, export."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import text
from study_helpers import make_image_sets, study_document, write_study_toml
from werkzeug.serving import make_server

from study import staircase
from study.app import create_app, runtime
from study.imagesets import load_study_sets
from study.scheduler import cell_pools, plan_participant
from study.spec import SpecError, load_spec, parse_spec
from study.spec_extra import TASK_TABLES
from study.spec_tasks import StaircaseSpec

RULE = StaircaseSpec(**{k.name: k.default for k in TASK_TABLES["staircase"]})


def real_fake_document(sets: dict, base: Path, **overrides) -> dict:
    """A study of two real-or-fake tasks (unlimited and staircase), single practice and catch."""
    doc = study_document(sets, base)
    del doc["comparisons"]
    doc["real_fake"] = [
        {"id": "crn_inf", "method": "crn", "real": "real", "trials": 6},
        {
            "id": "p2p_time",
            "method": "pix2pix",
            "real": "real",
            "exposure": "staircase",
            "trials": 8,
        },
    ]
    doc["practice"]["task"] = "real_fake"
    doc.update(overrides)
    return doc


@pytest.fixture
def rf_toml(tmp_path):
    sets = make_image_sets(tmp_path / "sets", n_ids=24)
    return write_study_toml(tmp_path / "study.toml", real_fake_document(sets, tmp_path))


def test_spec_reads_tasks_and_defaults(rf_toml):
    spec = load_spec(rf_toml)
    assert [(t.id, t.exposure, t.trials, t.adaptive) for t in spec.real_fake] == [
        ("crn_inf", "unlimited", 6, False),
        ("p2p_time", "staircase", 8, True),
    ]
    assert spec.catch.task == "real_fake" and spec.practice.task == "real_fake"
    assert spec.paired_trials == 0 and spec.test_trials == 14 and spec.total_trials == 18
    assert spec.staircase == RULE and spec.timing.fixation_ms == 500


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trials": 5}, "real_fake[0].trials: expected an even integer of at least 2, got 5"),
        (
            {"exposure": "adaptive"},
            'real_fake[0].exposure: expected a positive number of milliseconds, "unlimited" or '
            '"staircase", got "adaptive"',
        ),
        ({"method": "real"}, 'real_fake[0]: method and real are both "real", expected two sets'),
        ({"id": "p2p_time"}, 'real_fake[1].id: duplicate comparison or task id "p2p_time"'),
    ],
)
def test_bad_tasks_are_one_line_errors(tmp_path, change, message):
    doc = real_fake_document(
        {k: f"/s/{k}" for k in ("real", "crn", "pix2pix", "real-blur")}, Path("/")
    )
    doc["real_fake"][0].update(change)
    with pytest.raises(SpecError) as info:
        parse_spec(tomli_w.dumps(doc), "/")
    assert info.value.problems == [f"study.toml: {message}"]


def test_staircase_and_conditions_errors():
    doc = real_fake_document(
        {k: f"/s/{k}" for k in ("real", "crn", "pix2pix", "real-blur")}, Path("/")
    )
    doc["staircase"] = {"min_ms": 20, "start_ms": 10}
    doc["conditions"] = [{"id": "a", "tasks": ["crn_inf", "nope"]}]
    with pytest.raises(SpecError) as info:
        parse_spec(tomli_w.dumps(doc), "/")
    assert info.value.problems == [
        "study.toml: staircase.min_ms: expected at least 34 ms (two frames at 60 Hz), got 20",
        "study.toml: staircase: expected min_ms ≤ start_ms ≤ max_ms, got 20, 10, 1000",
        "study.toml: conditions[0].tasks[1]: expected a comparison or real_fake id (crn_inf, "
        'p2p_time), got "nope"',
        'study.toml: conditions: "p2p_time" is in no condition, expected every task in one',
    ]


def test_every_participant_sees_exactly_half_real_and_no_image_twice(rf_toml):
    spec = load_spec(rf_toml)
    sets = load_study_sets(spec)
    coverage: Counter = Counter()
    for seed in range(40):
        plan = plan_participant(spec, sets, coverage, seed)
        tests = [t for t in plan if t.kind == "test"]
        for task in spec.real_fake:
            shown = Counter(t.left_method for t in tests if t.comparison == task.id)
            assert shown == {task.real: task.trials // 2, task.method: task.trials // 2}
        images = [(t.left_method, t.image_id) for t in plan if t.kind != "practice"]
        assert len(images) == len(set(images)), "an image shown twice to one participant"
        layouts = [t.image_id for t in tests]
        assert len(layouts) == len(set(layouts)), "24 layouts are enough for 14 distinct ones"
        assert all(t.left_method == t.right_method for t in plan)
        assert {t.task for t in tests} == {"real_fake", "staircase"}
        for t in tests:
            coverage[t.coverage_key] += 1
    for cell, pool in cell_pools(spec, sets).items():
        counts = [coverage[(*cell, image)] for image in pool]
        # Distinct layouts per participant come first, so a cell may run one image ahead.
        assert max(counts) - min(counts) <= 2, f"images of {cell} used unevenly: {counts}"


def test_staircase_rule_golden_sequence():
    # 3 correct: 500 / 1.6; a wrong answer: back up (a reversal), then ×1.25 steps.
    state = staircase.replay(RULE, [True] * 3)
    assert state.level_ms == pytest.approx(312.5) and state.reversals == 0
    state = staircase.replay(RULE, [True] * 3 + [False])
    assert state.level_ms == pytest.approx(500.0) and state.reversals == 1
    state = staircase.replay(RULE, [True] * 3 + [False] + [True] * 3)
    assert state.level_ms == pytest.approx(400.0) and state.reversals == 2
    assert staircase.replay(RULE, [False] * 10).level_ms == 1000.0
    assert staircase.replay(RULE, [True] * 60).level_ms == 100.0
    assert staircase.quantise_ms(312.5, 1000 / 60) == 317  # 19 frames at 60 Hz
    assert staircase.quantise_ms(312.5, 1000 / 144) == 312  # 45 frames at 144 Hz


def _answer(client, headers, trial, choice, frame_ms=1000 / 60):
    body = {"choice": choice, "response_ms": 800.0, "frame_ms": frame_ms}
    if trial["exposure_ms"] is not None:
        body["exposure_ms_measured"] = float(trial["exposure_ms"])
    return client.post(f"/api/trials/{trial['id']}/answer", json=body, headers=headers)


def test_serving_single_images_and_the_staircase(tmp_path, rf_toml):
    app = create_app({"spec_path": rf_toml, "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    try:
        client = app.test_client()
        enrolled = client.post("/api/enrol", json={"params": {}}).get_json()
        headers = {"Authorization": f"Bearer {enrolled['token']}"}
        state, seen = enrolled["state"], []
        first = state["next"]
        assert (
            first["mode"] == "single" and "left" not in first and first["image"].startswith("img/")
        )
        wrong = _answer(client, headers, first, "left")
        assert wrong.status_code == 422 and '"real" or "fake"' in wrong.get_json()["error"]
        none = _answer(client, headers, first, "none")
        assert none.status_code == 422 and "deadline" in none.get_json()["error"]
        while not state["done"]:
            trial = state["next"]
            reply = _answer(client, headers, trial, "real")
            assert reply.status_code == 200, reply.get_json()
            if trial["practice"]:
                assert set(reply.get_json()["feedback"]) == {"correct", "answer"}
            seen.append(trial)
            state = reply.get_json()
        with runtime(app).engine.connect() as conn:
            rows = (
                conn.execute(text("SELECT * FROM responses_export ORDER BY trial_index"))
                .mappings()
                .all()
            )
    finally:
        runtime(app).engine.dispose()
    assert len(rows) == 18
    stair = [r for r in rows if r["task"] == "staircase"]
    assert len(stair) == 8 and {r["comparison"] for r in stair} == {"p2p_time"}
    # Always "real": right on real photos, wrong on pix2pix images; the replayed rule must
    # give exactly the exposures that were served.
    outcomes = [r["chosen_method"] == r["left_method"] for r in stair]
    for k, row in enumerate(stair):
        level = staircase.replay(RULE, outcomes[:k]).level_ms
        assert row["exposure_ms_target"] == staircase.quantise_ms(level, 1000 / 60)
        assert row["exposure"] == str(row["exposure_ms_target"])
    for row in rows:
        assert row["left_method"] == row["right_method"]
        assert row["chosen_method"] == ("real" if row["kind"] == "test" else row["method_a"])
    assert {r["task"] for r in rows if r["kind"] == "test"} == {"real_fake", "staircase"}
    assert {r["task"] for r in rows if r["kind"] != "test"} == {"real_fake"}


@contextmanager
def live(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_simulated_participants_take_both_tasks_and_analysis_reads_them(tmp_path):
    from analysis.pipeline import AnalysisOptions, analyse
    from analysis.report import write_report
    from study.export import export_study
    from study.simulate import Curve, SimConfig, build_oracle, simulate

    sets = make_image_sets(tmp_path / "sets", n_ids=40)
    doc = real_fake_document(sets, tmp_path)
    doc["real_fake"][0]["trials"] = 10
    doc["real_fake"][1]["trials"] = 24
    doc["comparisons"] = [{"a": "crn", "b": "pix2pix", "exposures": ["unlimited"]}]
    doc["study"]["trials_per_participant"] = 4
    spec_path = write_study_toml(tmp_path / "study.toml", doc)
    db = tmp_path / "study.sqlite"
    app = create_app({"spec_path": spec_path, "database_url": f"sqlite:///{db}"})
    curves = {"crn_inf": Curve(0.7), "p2p_time": Curve(0.95, 200.0, 0.4)}
    # Catch trials always passed: which trials a participant gets depends on thread timing, so
    # a 95 % catch accuracy would exclude a varying number of people between runs.
    config = SimConfig(
        participants=12, concurrency=4, curves=curves, progress=False, seed=3, catch_accuracy=1.0
    )
    try:
        with live(app) as url:
            oracle = build_oracle(spec_path)
            result = simulate(url, config, oracle)
        assert result.finished == 12 and not result.errors
        summary = export_study(runtime(app).engine, tmp_path / "out" / "responses.csv")
    finally:
        runtime(app).engine.dispose()
    assert summary["responses"] == 12 * (2 + 4 + 10 + 24 + 2)
    header = (tmp_path / "out" / "responses.csv").read_text().splitlines()[0]
    assert header.endswith(",user_agent,task")
    analysed = analyse(AnalysisOptions(paths=[str(tmp_path / "out" / "responses.csv")]))
    rates = analysed.tasks.rates
    assert list(rates["task"]) == ["crn_inf"] and rates["n"].iloc[0] >= 80
    assert 0.1 < rates["hype"].iloc[0] < 0.5 and rates["hype_lo"].iloc[0] < rates["hype"].iloc[0]
    thresholds = analysed.tasks.thresholds
    kept = analysed.exclusions.kept
    tracked = kept.loc[kept["comparison"] == "p2p_time", "participant_id"].nunique()
    assert list(thresholds["task"]) == ["p2p_time"]
    assert thresholds["n_participants"].iloc[0] == tracked >= 10
    assert 34 <= thresholds["threshold_ms"].iloc[0] <= 1000
    assert analysed.has_paired and set(analysed.rates["comparison"]) == {"crn_vs_pix2pix"}
    written = {p.name for p in write_report(analysed, tmp_path / "report")}
    assert {"hype_table.md", "staircase_thresholds.csv", "staircases.svg", "rates.csv"} <= written
    html = (tmp_path / "report" / "index.html").read_text()
    assert "Real or fake (HYPE)" in html and "HYPE_time" in html
