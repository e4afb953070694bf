"""`crnkit study export`: responses.csv in contract-5 order, study.json, participants.csv.

The formats are described in docs/contracts.md.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from ops_helpers import participate

from crn.cli import main as crnkit
from crn.imageset import load_imageset
from study.app import runtime
from study.db import EXPORT_COLUMNS
from study.imagesets import set_digest


def _db_path(app) -> str:
    return runtime(app).engine.url.database


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def answered_app(ops_app):
    """Two finished participants and one who answered 5 trials."""
    client = ops_app.test_client()
    done = [participate(client), participate(client), participate(client, stop_after=5)]
    return ops_app, done


def test_responses_csv_has_contract_columns_and_one_row_per_answer(answered_app, tmp_path):
    app, done = answered_app
    out = tmp_path / "out" / "responses.csv"
    assert crnkit(["study", "export", "--db", _db_path(app), "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == EXPORT_COLUMNS
    rows = _read_csv(out)
    assert len(rows) == sum(p["answered"] for p in done)
    for row in rows:
        assert row["timing_ok"] in ("0", "1") and row["focus_lost"] in ("0", "1")
        assert row["exposure"] in ("125", "1000", "unlimited")
        if row["exposure"] == "unlimited":
            assert row["exposure_ms_target"] == "" and row["exposure_ms_measured"] == ""
        else:
            assert int(row["exposure_ms_target"]) == int(row["exposure"])
        assert row["chosen_method"] in (row["left_method"], row["right_method"])
        assert row["shown_at"].endswith("Z") and row["answered_at"].endswith("Z")
    per_participant = {}
    for row in rows:
        per_participant.setdefault(row["participant_id"], []).append(int(row["trial_index"]))
    assert sorted(len(v) for v in per_participant.values()) == [5, 16, 16]
    assert all(v == list(range(len(v))) for v in per_participant.values())


def test_study_json_records_spec_hash_set_digests_and_exclusions(answered_app, tmp_path):
    app, _ = answered_app
    out = tmp_path / "responses.csv"
    assert crnkit(["study", "export", "--db", _db_path(app), "--out", str(out)]) == 0
    doc = json.loads((tmp_path / "study.json").read_text())
    spec = runtime(app).spec
    toml_bytes = Path(runtime(app).config.spec_path).read_bytes()
    assert doc["spec_sha256"] == hashlib.sha256(toml_bytes).hexdigest() == spec.sha256
    assert doc["study_id"] == "fixture-study" and doc["spec"]["id"] == "fixture-study"
    assert set(doc["imagesets"]) == {"real", "crn", "pix2pix", "blurred"}
    for name, entry in doc["imagesets"].items():
        assert entry["sha256"] == set_digest(load_imageset(spec.sets[name]))
    assert doc["imagesets"]["blurred"]["kind"] == "catch"
    assert doc["exclusions"]["min_catch_accuracy"] == 0.75
    assert doc["exclusions"]["trials_per_participant"] == 12


def test_participants_csv_counts_answers_and_correct_catch_trials(answered_app, tmp_path):
    app, done = answered_app
    out, parts = tmp_path / "responses.csv", tmp_path / "participants.csv"
    args = ["study", "export", "--db", _db_path(app), "--out", str(out)]
    assert crnkit([*args, "--participants", str(parts)]) == 0
    responses, people = _read_csv(out), _read_csv(parts)
    assert [p["participant_id"] for p in people] == [p["participant_id"] for p in done]
    for person in people:
        mine = [r for r in responses if r["participant_id"] == person["participant_id"]]
        catch = [r for r in mine if r["kind"] == "catch"]
        assert int(person["trials_answered"]) == len(mine)
        assert int(person["trials_total"]) == 16
        assert int(person["catch_correct"]) == sum(r["chosen_method"] == "real" for r in catch)
        finished = person["trials_answered"] == "16"
        assert person["status"] == ("finished" if finished else "started")
        assert (person["completion_code"] == "FIXTURE1") == finished
        assert bool(person["finished_at"]) == finished
    assert int(people[-1]["catch_total"]) == 2


def test_export_from_a_missing_db_is_one_clear_error(tmp_path, capsys):
    missing = tmp_path / "nope.sqlite"
    code = crnkit(["study", "export", "--db", str(missing), "--out", str(tmp_path / "r.csv")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "nope.sqlite" in err and len(err.splitlines()) == 1
    assert not missing.exists()


def test_several_studies_need_a_study_id(ops_factory, tmp_path, capsys):
    first = ops_factory()
    participate(first.test_client(), stop_after=3)
    # A second study in the same database file.
    from study.app import create_app

    doc_app = create_app(
        {
            "spec_path": _second_spec(tmp_path),
            "database_url": runtime(first).config.database_url,
        }
    )
    runtime(doc_app).engine.dispose()
    out = tmp_path / "r.csv"
    assert crnkit(["study", "export", "--db", _db_path(first), "--out", str(out)]) == 2
    assert "--study-id" in capsys.readouterr().err
    args = ["study", "export", "--db", _db_path(first), "--out", str(out)]
    assert crnkit([*args, "--study-id", "fixture-study"]) == 0
    assert len(_read_csv(out)) == 3
    assert crnkit([*args, "--study-id", "other"]) == 2


def _second_spec(tmp_path: Path) -> Path:
    text = (tmp_path / "study.toml").read_text().replace('"fixture-study"', '"second-study"')
    path = tmp_path / "second.toml"
    path.write_text(text)
    return path


def test_export_view_and_analysis_loader_share_one_column_list(answered_app):
    """The database view and `crnkit analyze` read the columns from crnkit_common.responses."""
    from sqlalchemy import inspect

    from analysis.load import read_responses_db, validate_responses
    from analysis.schema import COLUMNS as ANALYSIS_COLUMNS
    from crnkit_common.responses import COLUMNS

    app, done = answered_app
    engine = runtime(app).engine
    view = [c["name"] for c in inspect(engine).get_columns("responses_export")]
    assert tuple(view) == COLUMNS == EXPORT_COLUMNS == ANALYSIS_COLUMNS
    url = f"sqlite:///{_db_path(app)}"
    frame = validate_responses(read_responses_db(url), url)
    assert len(frame) == sum(p["answered"] for p in done)
