"""Loading responses.csv files, the database view and study.json; the loader's errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from analysis.errors import AnalysisInputError
from analysis.load import load_responses, read_study_json
from analysis.schema import COLUMNS
from analysis.validate import validate_responses
from crn.errors import UserError


def test_csv_loads_with_exposure_as_text_and_unlimited_kept(export_csv):
    loaded = load_responses([export_csv])
    frame = loaded.frame
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(frame["exposure"]) == {"250", "1000", "4000", "unlimited"}
    assert frame["exposure"].isna().sum() == 0
    unlimited = frame[frame["exposure"] == "unlimited"]
    assert len(unlimited) > 0
    assert unlimited["exposure_ms_target"].isna().all()
    assert loaded.notes == ()  # study.json was found beside the CSV
    assert loaded.studies["synth"].exclusions == {}
    assert frame["chose_a"].isin([0, 1]).all()


def test_several_files_concatenate(tmp_path, export_writer):
    from analysis.synth import SimulationSpec

    a = export_writer(tmp_path / "a", SimulationSpec(study_id="a", dataset="city", seed=1))
    b = export_writer(tmp_path / "b", SimulationSpec(study_id="b", dataset="nyu", seed=2))
    loaded = load_responses([a, b])
    assert set(loaded.frame["dataset"]) == {"city", "nyu"}
    assert set(loaded.studies) == {"a", "b"}
    only = load_responses([a, b], study_id="b")
    assert set(only.frame["study_id"]) == {"b"}


def test_missing_study_json_is_noted(tmp_path, export_csv):
    (export_csv.parent / "study.json").unlink()
    loaded = load_responses([export_csv])
    assert loaded.studies == {}
    assert "no study.json" in loaded.notes[0]


def test_loading_the_same_export_twice_is_an_error(export_csv):
    with pytest.raises(AnalysisInputError, match="more than once"):
        load_responses([export_csv, export_csv])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timing_ok": "2"}, "timing_ok must be 0 or 1"),
        ({"kind": "warmup"}, "kind 'warmup' is not one of"),
        ({"exposure": "fast"}, "exposure 'fast' is neither"),
        ({"exposure_ms_target": "500"}, "exposure_ms_target must equal the exposure"),
        ({"exposure": "unlimited"}, "must be empty for unlimited"),
        ({"chosen_method": "encdec"}, "chosen_method is neither"),
        ({"left_method": "encdec"}, "left_method/right_method are not"),
        ({"response_ms": "-5"}, "response_ms is negative"),
        ({"response_ms": "abc"}, "column response_ms has 'abc', expected a number"),
        ({"dpr": "0"}, "dpr must be > 0"),
        ({"participant_id": ""}, "participant_id is empty"),
        ({"answered_at": "2024-05-01T09:00:00Z"}, "earlier than shown_at"),
        ({"shown_at": "yesterday"}, "shown_at is not an ISO-8601 time"),
        ({"kind": "catch"}, "catch rows (and only they)"),
    ],
)
def test_impossible_values_name_the_line(make_raw, change, message):
    raw = make_raw({}, change)
    with pytest.raises(AnalysisInputError, match="line 3") as err:
        validate_responses(raw, "responses.csv")
    assert message in str(err.value)
    assert isinstance(err.value, UserError)  # the CLI prints it as one line, exit 2


def test_missing_columns_are_listed(make_raw):
    raw = make_raw({}).drop(columns=["timing_ok", "dpr"])
    with pytest.raises(AnalysisInputError, match=r"missing column\(s\) timing_ok, dpr"):
        validate_responses(raw, "x.csv")


def test_comparison_must_pair_fixed_methods(make_raw):
    raw = make_raw(
        {},
        {"method_b": "encdec", "right_method": "encdec", "chosen_method": "encdec"},
    )
    with pytest.raises(AnalysisInputError, match="pairs different methods"):
        validate_responses(raw, "x.csv")


def test_exposure_keys_are_normalised(make_rows):
    rows = make_rows({"exposure": "1000.0"}, {"exposure": "Unlimited", "exposure_ms_target": ""})
    assert list(rows["exposure"]) == ["1000", "unlimited"]


def test_unknown_method_against_study_json(export_csv):
    doc = json.loads((export_csv.parent / "study.json").read_text())
    del doc["imagesets"]["encdec"]
    (export_csv.parent / "study.json").write_text(json.dumps(doc))
    with pytest.raises(AnalysisInputError, match="methods 'encdec' are not image sets"):
        load_responses([export_csv])


def test_empty_and_absent_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(AnalysisInputError, match="is empty"):
        load_responses([empty])
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(AnalysisInputError, match="no responses"):
        load_responses([header_only])
    with pytest.raises(AnalysisInputError, match="no such file"):
        load_responses([tmp_path / "nope.csv"])
    with pytest.raises(AnalysisInputError, match="no responses given"):
        load_responses([])


def test_bad_study_json(tmp_path):
    path = tmp_path / "study.json"
    path.write_text("{not json")
    with pytest.raises(AnalysisInputError, match="not valid JSON"):
        read_study_json(path)
    path.write_text(json.dumps({"title": "no id"}))
    with pytest.raises(AnalysisInputError, match="string 'study_id'"):
        read_study_json(path)


def _sqlite_with_view(path, frame: pd.DataFrame) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    typed = frame.copy()
    for col in ("trial_index", "timing_ok", "focus_lost", "window_w", "window_h"):
        typed[col] = typed[col].astype(int)
    typed["exposure_ms_target"] = pd.to_numeric(typed["exposure_ms_target"])
    typed.to_sql("answers", engine, index=False)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"CREATE VIEW responses_export AS SELECT {', '.join(COLUMNS)} FROM answers")
        )
    engine.dispose()
    return url


def test_database_view_matches_csv(tmp_path, export_csv):
    raw = pd.read_csv(export_csv, dtype=str, keep_default_na=False)
    url = _sqlite_with_view(tmp_path / "study.sqlite", raw)
    from_db = load_responses(db_url=url, study_id="synth").frame
    from_csv = load_responses([export_csv]).frame
    pd.testing.assert_frame_equal(from_db, from_csv)
    with pytest.raises(AnalysisInputError, match="no responses for study_id 'other'"):
        load_responses(db_url=url, study_id="other")


def test_database_errors_are_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(AnalysisInputError, match="cannot read view responses_export"):
        load_responses(db_url=url)
    with pytest.raises(AnalysisInputError, match="bad database URL"):
        load_responses(db_url="nonsense://")
