"""`crnkit analyze` end to end on small synthetic exports, and `crnkit analyze plan`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.pipeline import output_names
from analysis.report import find_notes
from analysis.synth import SimulationSpec
from crn import cli


@pytest.fixture
def two_exports(tmp_path, export_writer):
    city = export_writer(
        tmp_path / "city",
        SimulationSpec(study_id="city1", dataset="cityscapes", n_participants=20, seed=1),
        min_catch_accuracy=0.75,
    )
    doc = json.loads((city.parent / "study.json").read_text())
    doc["imagesets"]["crn"]["extra"] = {"vgg_weights": "random"}
    (city.parent / "study.json").write_text(json.dumps(doc))
    nyu = export_writer(
        tmp_path / "nyu",
        SimulationSpec(study_id="nyu1", dataset="nyu", n_participants=16, seed=2),
    )
    return city, nyu


def test_report_files_from_two_datasets(tmp_path, two_exports, capsys):
    out = tmp_path / "report"
    args = ["analyze", *map(str, two_exports), "--out", str(out), "--bootstrap", "100"]
    assert cli.main([*args, "--focal", "crn", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "| crn vs. | cityscapes | nyu |" in printed
    for name in output_names():
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    rates = pd.read_csv(out / "rates.csv", dtype={"exposure": str})
    assert set(rates["dataset"]) == {"cityscapes", "nyu"}
    assert "unlimited" in set(rates["exposure"])
    assert {"wilson_lo", "cp_hi", "boot_p_lo", "boot_pi_hi", "p_adjusted"} <= set(rates.columns)
    table = pd.read_csv(out / "table.csv")
    assert list(table.columns) == ["crn vs.", "cityscapes", "nyu"]
    assert table["cityscapes"].str.match(r"^\d+\.\d % \[\d+\.\d, \d+\.\d\]$").all()
    assert (out / "exposure.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (out / "exposure.svg").read_text()
    html = (out / "index.html").read_text()
    assert html.count("<svg") >= 3  # figures inline: the page loads nothing else
    assert not any(x in html for x in ('src="http', 'href="http', "<link "))
    assert "VGG-19 random weights were used" in html
    assert "Exclusions" in html and "catch accuracy" in html
    settings = json.loads((out / "analysis.json").read_text())
    assert settings["bootstrap"]["seed"] == 3 and settings["table"]["focal"] == "crn"


def test_exclusion_overrides_reach_the_report(tmp_path, export_csv):
    out = tmp_path / "r"
    base = ["analyze", str(export_csv), "--out", str(out), "--bootstrap", "50"]
    assert cli.main([*base, "--min-catch-accuracy", "0", "--no-exclude-timing-failures"]) == 0
    report = pd.read_csv(out / "exclusions.csv").set_index("rule")
    assert report.loc["catch accuracy", "participants_excluded"] == 0
    assert report.loc["timing missed", "judgments_removed"] == 0
    assert report.loc["timing missed", "setting"] == "off"
    settings = json.loads((out / "analysis.json").read_text())["exclusions"]["synth"]
    assert settings["min_catch_accuracy"] == 0.0 and settings["exclude_timing_failures"] is False


def test_database_input(tmp_path, export_csv):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = sa.create_engine(url)
    pd.read_csv(export_csv, dtype=str, keep_default_na=False).to_sql("r", engine, index=False)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE VIEW responses_export AS SELECT * FROM r"))
    engine.dispose()
    out = tmp_path / "from-db"
    assert cli.main(["analyze", "--db", url, "--out", str(out), "--bootstrap", "50"]) == 0
    html = (out / "index.html").read_text()
    assert "no study.json found" in html  # none given: built-in defaults, and it says so


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--focal", "vqvae"], "focal method 'vqvae' is in no comparison"),
        (["--bootstrap", "1"], "need at least 2 resamples"),
        (["--min-catch-accuracy", "3"], "between 0 and 1"),
        (["--exposure", "333", "--columns", "dataset"], "no cells at exposure '333'"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, export_csv, capsys, extra, message):
    args = ["analyze", str(export_csv), "--out", str(tmp_path / "x"), *extra]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_missing_input_file(tmp_path, capsys):
    assert cli.main(["analyze", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_plan_command(capsys):
    assert cli.main(["analyze", "plan", "--rate", "0.5", "--half-width", "0.05"]) == 0
    assert capsys.readouterr().out.startswith("385 judgments per cell")
    args = ["analyze", "plan", "--rate", "0.6", "--power", "0.8", "--icc", "0.1"]
    assert cli.main([*args, "--per-participant", "11", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["judgments_independent"] == 199 and plan["judgments"] == 398


def test_help_has_examples(capsys):
    for args in (["analyze", "--help"], ["analyze", "plan", "--help"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(args)
        assert exc.value.code == 0
        assert "example" in capsys.readouterr().out


def test_notes_are_found_anywhere_in_study_json():
    spec = {"comparisons": [{"id": "a", "note": "pilot run"}], "notes": ["check display"]}
    sets = {"crn": {"extra": {"vgg_weights": "random"}}, "real": {"extra": {"vgg_weights": "x"}}}
    found = [*find_notes(spec, "spec"), *find_notes(sets, "imagesets")]
    assert found == [
        "spec.comparisons[0]: pilot run",
        "spec: check display",
        "imagesets.crn.extra: VGG-19 random weights were used (vgg_weights = random); "
        "its perceptual loss had no pretrained features",
    ]
