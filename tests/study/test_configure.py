"""What researchers configure: timing, deadline misses, Markdown pages, questions, conditions."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
from ops.ops_helpers import answer_body
from sqlalchemy import text

from study.app import runtime
from study.export import export_study
from study.markdown import render_markdown


def _enrol(client):
    enrolled = client.post("/api/enrol", json={"params": {}}).get_json()
    return enrolled, {"Authorization": f"Bearer {enrolled['token']}"}


def _finish(client, headers, state, choice="left"):
    while not state["done"]:
        trial = state["next"]
        body = answer_body(trial, choice)
        reply = client.post(f"/api/trials/{trial['id']}/answer", json=body, headers=headers)
        assert reply.status_code == 200, reply.get_json()
        state = reply.get_json()
    return state


def test_markdown_is_rendered_without_running_anything():
    html = str(render_markdown("# Hi\n\n<script>alert(1)</script> **b** [x](javascript:alert(1))"))
    assert "<h1>Hi</h1>" in html and "<strong>b</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_consent_and_instructions_come_from_markdown_files(tmp_path, app_factory):
    (tmp_path / "consent.md").write_text("You may **stop** at any time. <img src=x onerror=1>")
    (tmp_path / "instructions.md").write_text("## How\n\n- look\n- answer")
    app = app_factory(study={"consent_file": "consent.md", "instructions_file": "instructions.md"})
    page = app.test_client().get("/").get_data(as_text=True)
    assert "<strong>stop</strong>" in page and "&lt;img src=x onerror=1&gt;" in page
    assert "<h2>How</h2>" in page and "<li>look</li>" in page
    assert runtime(app).spec.to_dict()["consent_markdown"].startswith("You may")


def test_an_edited_consent_file_needs_a_new_study_id(tmp_path, app_factory):
    from crn.errors import UserError

    (tmp_path / "consent.md").write_text("Version 1")
    app_factory(study={"consent_file": "consent.md"})
    (tmp_path / "consent.md").write_text("Version 2")
    with pytest.raises(UserError, match=r"consent\.md changed since the study started"):
        app_factory(study={"consent_file": "consent.md"})


def test_missing_markdown_file_is_a_one_line_error(app_factory):
    from study.spec import SpecError

    with pytest.raises(SpecError) as info:
        app_factory(study={"consent_file": "nope.md"})
    assert str(info.value).endswith(
        "study.consent_file: file nope.md not found (expected a Markdown file beside study.toml)"
    )


def test_timing_reaches_the_page_and_deadline_misses_are_stored_without_a_choice(app_factory):
    app = app_factory(timing={"fixation_ms": 300, "mask_ms": 100, "response_deadline_ms": 1500})
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    config = json.loads(page.split('id="study-config">')[1].split("</script>")[0])
    assert config["timing"] == {"fixation_ms": 300, "mask_ms": 100, "response_deadline_ms": 1500}
    enrolled, headers = _enrol(client)
    trial = enrolled["state"]["next"]
    body = answer_body(trial) | {"choice": "none", "response_ms": 1500.0}
    reply = client.post(f"/api/trials/{trial['id']}/answer", json=body, headers=headers)
    assert reply.status_code == 200
    with runtime(app).engine.connect() as conn:
        row = conn.execute(text("SELECT chosen_method FROM responses_export")).one()
    assert row.chosen_method == ""


def test_questions_are_stored_once_after_the_last_trial_and_exported(tmp_path, app_factory):
    app = app_factory(questions={"age_band": True, "vision": True, "comment": True})
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'id="q-age_band"' in page and "<option>25-34</option>" in page
    enrolled, headers = _enrol(client)
    early = client.post("/api/questions", json={"age_band": "25-34"}, headers=headers)
    assert early.status_code == 409 and "after the last trial" in early.get_json()["error"]
    _finish(client, headers, enrolled["state"])
    bad = client.post("/api/questions", json={"age_band": "twenty"}, headers=headers)
    assert bad.status_code == 422 and "'age_band' must be one of" in bad.get_json()["error"]
    body = {"age_band": "25-34", "vision": "normal", "comment": "=HYPERLINK(1)"}
    assert client.post("/api/questions", json=body, headers=headers).status_code == 201
    again = client.post("/api/questions", json=body, headers=headers)
    assert again.status_code == 409
    out = tmp_path / "export"
    export_study(runtime(app).engine, out / "responses.csv", questions_out=out / "questions.csv")
    with open(out / "questions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["age_band"] == "25-34" and rows[0]["vision"] == "normal"
    assert rows[0]["comment"] == "'=HYPERLINK(1)", "a formula-looking comment is neutralised"
    assert rows[0]["participant_id"] == enrolled["participant_id"]


def test_conditions_are_counterbalanced_and_restrict_the_comparisons(tmp_path, app_factory):
    conditions = [
        {"id": "vs_pix2pix", "tasks": ["crn_vs_pix2pix"]},
        {"id": "vs_real", "tasks": ["crn_vs_real"]},
    ]
    app = app_factory(conditions=conditions)
    client = app.test_client()
    for _ in range(6):
        enrolled, headers = _enrol(client)
        _finish(client, headers, enrolled["state"])
    with runtime(app).engine.connect() as conn:
        people = conn.execute(text("SELECT id, condition FROM participant")).all()
        comparisons = conn.execute(
            text("SELECT participant_id, comparison FROM trial WHERE kind = 'test'")
        ).all()
    assert Counter(c for _, c in people) == {"vs_pix2pix": 3, "vs_real": 3}
    condition_of = dict(people)
    expected = {"vs_pix2pix": "crn_vs_pix2pix", "vs_real": "crn_vs_real"}
    assert {comparison == expected[condition_of[pid]] for pid, comparison in comparisons} == {True}
    out = tmp_path / "export"
    export_study(runtime(app).engine, out / "r.csv", participants_out=out / "p.csv")
    with open(out / "p.csv", newline="") as fh:
        assert Counter(r["condition"] for r in csv.DictReader(fh)) == {
            "vs_pix2pix": 3,
            "vs_real": 3,
        }


def test_old_database_gains_the_new_columns(tmp_path, study_toml):
    """A database made before tasks and conditions existed is migrated, its rows kept."""
    import sqlite3

    from study.app import create_app

    db = tmp_path / "old.sqlite"
    app = create_app({"spec_path": study_toml, "database_url": f"sqlite:///{db}"})
    client = app.test_client()
    enrolled, headers = _enrol(client)
    _finish(client, headers, enrolled["state"])
    runtime(app).engine.dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP VIEW responses_export")
        conn.execute("ALTER TABLE trial DROP COLUMN task")
        conn.execute("ALTER TABLE participant DROP COLUMN condition")
        conn.execute("CREATE VIEW responses_export AS SELECT r.id AS study_id FROM response r")
    app = create_app({"spec_path": study_toml, "database_url": f"sqlite:///{db}"})
    try:
        with runtime(app).engine.connect() as conn:
            tasks = conn.execute(text("SELECT DISTINCT task FROM responses_export")).scalars()
            assert list(tasks) == ["paired"]
            assert conn.execute(text("SELECT count(*) FROM responses_export")).scalar() == 16
    finally:
        runtime(app).engine.dispose()
