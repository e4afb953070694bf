"""What `crnkit analyze` does with awkward but valid input and with bad input (no traceback)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.synth import SimulationSpec
from crn import cli
from tests.analysis.conftest import SMALL


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["analyze", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_real_set_with_another_name_is_accepted(tmp_path, export_writer, capsys):
    spec = SimulationSpec(**{**SMALL.__dict__, "real_set": "photos"})
    csv = export_writer(tmp_path / "city", spec)
    code, out, _ = _run(capsys, str(csv), "--out", str(tmp_path / "r"), "--bootstrap", "50")
    assert code == 0 and "| crn vs." in out
    # A study.json that names a different real set is a clear one-line error.
    doc = json.loads((csv.parent / "study.json").read_text())
    doc["spec"]["catch"]["real"] = "real"
    doc["imagesets"]["real"] = {"kind": "real"}
    (csv.parent / "study.json").write_text(json.dumps(doc))
    code, _, err = _run(capsys, str(csv), "--out", str(tmp_path / "r2"))
    assert code != 0
    assert "catch rows have method_a 'photos'" in err and "names 'real'" in err
    assert len(err.strip().splitlines()) == 1


def test_every_row_excluded_names_the_rules(tmp_path, export_csv, capsys):
    code, _, err = _run(
        capsys, str(export_csv), "--out", str(tmp_path / "r"), "--min-response-ms", "1e9"
    )
    assert code != 0
    assert "every test judgment was excluded" in err and "too fast" in err
    assert "Traceback" not in err


def test_empty_and_foreign_csvs_are_one_line_errors(tmp_path, export_csv, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = _run(capsys, str(empty), "--out", str(tmp_path / "r"))
    assert code != 0 and "is empty" in err and len(err.strip().splitlines()) == 1
    other = tmp_path / "other.csv"
    pd.DataFrame({"id": [1], "score": [3]}).to_csv(other, index=False)
    code, _, err = _run(capsys, str(other), "--out", str(tmp_path / "r"))
    assert code != 0 and "missing column(s)" in err and len(err.strip().splitlines()) == 1
    # Responses checked against another study's study.json: its methods are not image sets there.
    foreign = json.loads((export_csv.parent / "study.json").read_text())
    foreign["imagesets"] = {"a": {"kind": "real"}, "b": {"kind": "generated"}}
    study_json = tmp_path / "foreign.json"
    study_json.write_text(json.dumps(foreign))
    code, _, err = _run(
        capsys, str(export_csv), "--study-json", str(study_json), "--out", str(tmp_path / "r")
    )
    assert code != 0 and "are not image sets of" in err


def test_two_datasets_with_the_same_ids_stay_apart(tmp_path, export_writer, capsys):
    city = export_writer(tmp_path / "city", SimulationSpec(**{**SMALL.__dict__, "seed": 1}))
    nyu = export_writer(
        tmp_path / "nyu",
        SimulationSpec(**{**SMALL.__dict__, "seed": 2, "study_id": "nyu", "dataset": "nyu"}),
    )
    out = tmp_path / "r"
    code, _, _ = _run(capsys, str(city), str(nyu), "--out", str(out), "--bootstrap", "50")
    assert code == 0
    rates = pd.read_csv(out / "rates.csv", dtype={"exposure": str})
    # Same participant and image ids in both exports, but each cell counts only its own.
    assert set(rates["dataset"]) == {"synthetic", "nyu"}
    assert (rates.groupby("dataset")["n_participants"].max() <= SMALL.n_participants).all()


def test_a_comparison_with_one_participant_says_what_it_could_not_estimate(
    tmp_path, export_csv, capsys
):
    frame = pd.read_csv(export_csv, dtype=str, keep_default_na=False)
    lone = frame["comparison"] == "crn_vs_encdec"
    keep = ~lone | (frame["participant_id"] == frame.loc[lone, "participant_id"].iloc[0])
    frame[keep].to_csv(export_csv, index=False)
    out = tmp_path / "r"
    code, _, err = _run(capsys, str(export_csv), "--out", str(out), "--bootstrap", "50")
    assert code == 0
    assert "crn_vs_encdec" in err and "only one participant: no interval" in err
    rates = pd.read_csv(out / "rates.csv", dtype={"exposure": str})
    lonely = rates[rates["comparison"] == "crn_vs_encdec"]
    assert lonely["lo"].isna().all() and lonely["p_value"].isna().all()
    assert "only one participant" in (out / "index.html").read_text()


def test_labels_and_order_from_the_spec_reach_the_table(tmp_path, export_csv, capsys):
    doc = json.loads((export_csv.parent / "study.json").read_text())
    doc["spec"]["labels"] = {"crn": "CRN (ours)", "pix2pix": "Pix2pix"}
    doc["spec"]["report"] = {"order": ["real", "pix2pix"]}
    (export_csv.parent / "study.json").write_text(json.dumps(doc))
    out = tmp_path / "r"
    code, _, _ = _run(capsys, str(export_csv), "--out", str(out), "--bootstrap", "50", "--table-n")
    assert code == 0
    table = pd.read_csv(out / "table.csv")
    assert table.columns[0] == "CRN (ours) vs."
    assert list(table[table.columns[0]])[:2] == ["real", "Pix2pix"]
    assert table.iloc[0, 1:].str.contains(r"\(n = \d+\)").any()
    assert "booktabs" in (out / "table.tex").read_text()


@pytest.mark.parametrize("family", ["dataset-exposure", "table"])
def test_the_family_is_stated_in_the_report(tmp_path, export_csv, capsys, family):
    out = tmp_path / family
    code, _, _ = _run(
        capsys, str(export_csv), "--out", str(out), "--bootstrap", "50", "--family", family
    )
    assert code == 0
    html = (out / "index.html").read_text()
    scope = "within each data set x exposure" if family != "table" else "across the whole table"
    assert f"Holm correction {scope}" in html
    rates = pd.read_csv(out / "rates.csv", dtype={"exposure": str})
    assert rates["family"].str.endswith("tests)").all()


def test_pilot_plan_from_responses(tmp_path, export_csv, capsys):
    args = ["plan", "--pilot", str(export_csv), "--power", "0.8", "--studies", "40"]
    code, out, _ = _run(capsys, *args, "--rate", "0.7", "--images", "200", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {r["comparison"] for r in rows} >= {"crn_vs_pix2pix"}
    for row in rows:
        assert row["planned_rate"] == 0.7
        assert row["participants_needed"] >= 2 and row["power_reached"] >= 0.8
        assert row["sd_participant"] >= 0 and row["sd_image"] >= 0
