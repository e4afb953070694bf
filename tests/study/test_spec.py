"""Contract 4 (docs/contracts.md): study.toml parsing, defaults, normalisation, exact errors."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import tomli_w
from study_helpers import study_document

from crn.errors import UserError
from study.spec import (
    SCHEMA,
    TABLE_CLASSES,
    SpecError,
    exposure_ms,
    load_spec,
    parse_spec,
    spec_reference_markdown,
)

REPO = Path(__file__).resolve().parents[2]
SETS = {name: f"/data/sets/{name}" for name in ("real", "crn", "pix2pix", "real-blur")}


def _doc() -> dict:
    return study_document(SETS, Path("/data"))


def _problems(doc: dict) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(tomli_w.dumps(doc), "/data")
    return info.value.problems


def test_fixture_spec_loads_with_normalised_values(study_toml, image_sets):
    spec = load_spec(study_toml)
    assert spec.id == "fixture-study"
    assert spec.sets["crn"] == image_sets["crn"].resolve()
    assert [c.id for c in spec.comparisons] == ["crn_vs_pix2pix", "crn_vs_real"]
    assert spec.comparisons[1].exposures == ("125", "1000", "unlimited")
    assert spec.cells()[:2] == [("crn_vs_pix2pix", "125"), ("crn_vs_pix2pix", "1000")]
    assert spec.practice.feedback is True and spec.catch.bad == "blurred"
    assert spec.total_trials == 2 + 12 + 2
    assert spec.sha256 == __import__("hashlib").sha256(study_toml.read_bytes()).hexdigest()
    assert spec.source_text == study_toml.read_text()
    assert isinstance(spec, object) and isinstance(SpecError([""]), UserError)


def test_defaults_fill_optional_tables():
    doc = _doc()
    for table in ("practice", "catch", "exclusion", "platform", "display"):
        del doc[table]
    for key in ("trials_per_participant", "seed"):
        del doc["study"][key]
    spec = parse_spec(tomli_w.dumps(doc), "/data")
    assert spec.practice is None and spec.catch is None and spec.total_trials == 40
    assert spec.exclusion.min_catch_accuracy == 0.75 and spec.exclusion.min_response_ms == 200
    assert spec.platform.kind == "local" and spec.platform.exclude_studies == ()
    assert (spec.display.width, spec.display.height, spec.display.break_every) == (512, 256, 0)
    assert spec.question == "Which image is more realistic?"


def test_exposure_keys_are_strings_and_convert_to_ms():
    doc = _doc()
    doc["comparisons"][0]["exposures"] = ["250", 8000, "unlimited"]
    spec = parse_spec(tomli_w.dumps(doc), "/data")
    assert spec.comparisons[0].exposures == ("250", "8000", "unlimited")
    assert [exposure_ms(k) for k in spec.comparisons[0].exposures] == [250, 8000, None]


def test_to_dict_is_json_and_complete(study_toml):
    spec = load_spec(study_toml)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["comparisons"][0] == {
        "id": "crn_vs_pix2pix",
        "a": "crn",
        "b": "pix2pix",
        "exposures": ["125", "1000", "unlimited"],
    }
    assert data["catch"] == {"trials": 2, "real": "real", "bad": "blurred", "exposure": "unlimited"}
    assert data["platform"]["exclude_studies"] == []
    assert "source_text" not in data and data["trials_per_participant"] == 12


def _set(doc: dict, path: str, value) -> dict:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    return doc


EXPOSURE = 'expected a positive number of milliseconds or "unlimited"'


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "comparisons.1.exposures",
            [125, 250, -5],
            f"comparisons[1].exposures[2]: {EXPOSURE}, got -5",
        ),
        (
            "comparisons.0.exposures",
            [125, "fast"],
            f'comparisons[0].exposures[1]: {EXPOSURE}, got "fast"',
        ),
        (
            "comparisons.0.exposures",
            [125, True],
            f"comparisons[0].exposures[1]: {EXPOSURE}, got true",
        ),
        (
            "comparisons.0.exposures",
            [125, "125"],
            "comparisons[0].exposures[1]: expected each exposure once (125 is listed twice), "
            'got "125"',
        ),
        (
            "comparisons.0.exposures",
            [],
            "comparisons[0].exposures: expected a non-empty list of exposures "
            '(milliseconds, "unlimited"), got []',
        ),
        (
            "comparisons.0.b",
            "pix2px",
            "comparisons[0].b: expected the name of a set in [sets] (real, crn, pix2pix, blurred), "
            'got "pix2px"',
        ),
        ("comparisons.0.b", "crn", 'comparisons[0]: a and b are both "crn", expected two sets'),
        (
            "study.trials_per_participant",
            0,
            "study.trials_per_participant: expected a positive integer, got 0",
        ),
        (
            "study.id",
            "my study",
            "study.id: expected a study id of letters, digits, '.', '_' or '-', got \"my study\"",
        ),
        (
            "display.widht",
            3,
            "display.widht: unknown key (expected one of: width, height, "
            "min_window_width, min_window_height, fullscreen, break_every)",
        ),
        (
            "exclusion.min_catch_accuracy",
            1.5,
            "exclusion.min_catch_accuracy: expected a number from 0 to 1, got 1.5",
        ),
        (
            "platform.kind",
            "mechanical-turk",
            'platform.kind: expected one of local, prolific, mturk, got "mechanical-turk"',
        ),
        ("practice.feedback", "yes", 'practice.feedback: expected true or false, got "yes"'),
        ("catch.exposure", 0, f"catch.exposure: {EXPOSURE}, got 0"),
        (
            "platform.exclude_studies",
            ["ok", "bad id"],
            'platform.exclude_studies[1]: expected a study id, got "bad id"',
        ),
        ("display", 5, "display: expected a table, got 5"),
        (
            "colour",
            "red",
            "colour: unknown key (expected one of: study, sets, comparisons, "
            "practice, catch, exclusion, platform, display, report)",
        ),
    ],
)
def test_bad_values_give_exact_messages(path, value, message):
    assert _problems(_set(_doc(), path, value)) == [f"study.toml: {message}"]


def test_missing_required_keys_and_tables():
    doc = _doc()
    del doc["study"]["title"]
    del doc["comparisons"][0]["a"]
    assert _problems(doc) == [
        "study.toml: study.title: required key is missing (expected a non-empty string)",
        "study.toml: comparisons[0].a: required key is missing "
        "(expected the name of a set in [sets])",
    ]
    doc = _doc()
    del doc["comparisons"], doc["sets"]
    assert _problems(doc) == [
        "study.toml: sets: required table is missing (expected [sets] naming image-set folders)",
        "study.toml: comparisons: expected one or more [[comparisons]] tables, got nothing",
    ]


def test_duplicate_and_reserved_comparisons():
    doc = _doc()
    doc["comparisons"].append({"a": "pix2pix", "b": "crn", "exposures": [125]})
    doc["comparisons"].append(
        {"id": "crn_vs_real", "a": "pix2pix", "b": "real", "exposures": [125]}
    )
    doc["comparisons"].append({"id": "catch", "a": "pix2pix", "b": "blurred", "exposures": [125]})
    assert _problems(doc) == [
        "study.toml: comparisons[2]: duplicate comparison of pix2pix and crn",
        'study.toml: comparisons[3].id: duplicate comparison id "crn_vs_real"',
        'study.toml: comparisons[4].id: "catch" is reserved, expected another id',
    ]


def test_prolific_needs_a_completion_code_and_all_problems_are_listed():
    doc = _set(_doc(), "platform", {"kind": "prolific"})
    doc["display"]["height"] = -1
    with pytest.raises(SpecError) as info:
        parse_spec(tomli_w.dumps(doc), "/data")
    assert info.value.problems == [
        "study.toml: display.height: expected a positive integer, got -1",
        'study.toml: platform.completion_code: required for kind = "prolific" (expected a code)',
    ]
    assert str(info.value).startswith("2 problems: study.toml: display.height")


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match=r"^study.toml: not valid TOML \("):
        parse_spec("[study\nid = 1", tmp_path)
    with pytest.raises(SpecError, match=r"nope\.toml: not found"):
        load_spec(tmp_path / "nope.toml")


def test_load_spec_names_the_file(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text(tomli_w.dumps(_set(_doc(), "study.seed", -1)))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}: study.seed: expected a non-negative integer, got -1"


def test_schema_matches_the_dataclasses():
    for table, cls in TABLE_CLASSES.items():
        assert [k.name for k in SCHEMA[table]] == [f.name for f in dataclasses.fields(cls)]
    study_keys = [k.name for k in SCHEMA["study"]]
    spec_fields = [f.name for f in dataclasses.fields(__import__("study.spec").spec.StudySpec)]
    assert spec_fields[: len(study_keys)] == study_keys


def test_docs_reference_is_up_to_date():
    text = (REPO / "docs" / "study-spec.md").read_text(encoding="utf-8")
    assert text == spec_reference_markdown(), "regenerate docs/study-spec.md"
    for keys in SCHEMA.values():
        for key in keys:
            assert f"| `{key.name}` |" in text
