"""Fixtures of the analysis tests: tiny simulated exports and a builder of hand-made rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from analysis.schema import COLUMNS
from analysis.synth import SimulationSpec, simulate_responses, study_json_for
from analysis.validate import validate_responses

BASE_ROW: dict[str, str] = {
    "study_id": "s1",
    "dataset": "city",
    "participant_id": "p1",
    "platform": "local",
    "trial_index": "0",
    "kind": "test",
    "comparison": "crn_vs_pix2pix",
    "image_id": "img0",
    "method_a": "crn",
    "method_b": "pix2pix",
    "left_method": "crn",
    "right_method": "pix2pix",
    "chosen_method": "crn",
    "exposure": "1000",
    "exposure_ms_target": "1000",
    "exposure_ms_measured": "1001.5",
    "timing_ok": "1",
    "frame_ms": "16.667",
    "dpr": "1",
    "response_ms": "900",
    "shown_at": "2024-05-01T10:00:00.000Z",
    "answered_at": "2024-05-01T10:00:00.900Z",
    "window_w": "1280",
    "window_h": "800",
    "focus_lost": "0",
    "user_agent": "test",
    "task": "paired",
}


def raw_rows(*overrides: dict[str, str]) -> pd.DataFrame:
    """All-text rows (as read from a CSV): BASE_ROW with per-row overrides, trial_index auto."""
    rows = []
    for i, change in enumerate(overrides):
        row = dict(BASE_ROW, trial_index=str(i))
        row.update(change)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


@pytest.fixture
def make_raw() -> Callable[..., pd.DataFrame]:
    """Builder of all-text rows from per-row overrides of a valid test trial."""
    return raw_rows


@pytest.fixture
def make_rows() -> Callable[..., pd.DataFrame]:
    """Builder of validated rows from per-row overrides of a valid test trial."""

    def build(*overrides: dict[str, str]) -> pd.DataFrame:
        return validate_responses(raw_rows(*overrides), "rows")

    return build


SMALL = SimulationSpec(
    n_participants=24,
    test_trials=24,
    catch_trials=4,
    practice_trials=2,
    n_images=12,
    exposures=("250", "1000", "4000", "unlimited"),
    seed=5,
)


def write_export(folder: Path, spec: SimulationSpec, **exclusions: object) -> Path:
    """Write responses.csv and study.json for a simulated study into folder; return the CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "responses.csv"
    simulate_responses(spec).to_csv(csv, index=False)
    (folder / "study.json").write_text(json.dumps(study_json_for(spec, **exclusions)))
    return csv


@pytest.fixture
def export_writer() -> Callable[..., Path]:
    """`write_export(folder, spec, **exclusions)`: a simulated responses.csv plus study.json."""
    return write_export


@pytest.fixture
def export_csv(tmp_path: Path) -> Path:
    """A small simulated export (24 participants, 4 exposures incl. unlimited) with study.json."""
    return write_export(tmp_path / "city", SMALL)
