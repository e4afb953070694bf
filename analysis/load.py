"""Load exported responses (CSV files or the database's `responses_export` view) and study.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.schema import COLUMNS
from analysis.validate import validate_responses

STUDY_JSON = "study.json"
DB_VIEW = "responses_export"


@dataclass(frozen=True)
class StudyMeta:
    """What `study.json` (written beside responses.csv) says about one study."""

    study_id: str
    title: str
    dataset: str
    spec: dict[str, Any]
    spec_sha256: str
    imagesets: dict[str, dict[str, Any]]
    exclusions: dict[str, Any]
    path: str

    @property
    def methods(self) -> frozenset[str]:
        """Names of the image sets the study declares (the methods responses may name)."""
        return frozenset(self.imagesets)

    @property
    def real_set(self) -> str | None:
        """The set of real photos catch trials use: the spec's [catch] real, else kind real."""
        catch = self.spec.get("catch")
        if isinstance(catch, dict) and isinstance(catch.get("real"), str):
            return catch["real"]
        real = sorted(n for n, s in self.imagesets.items() if s.get("kind") == "real")
        return real[0] if len(real) == 1 else None

    @property
    def labels(self) -> dict[str, str]:
        """Display names of the sets from the spec's `[sets.<name>] label` (may be empty)."""
        labels = self.spec.get("labels")
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    @property
    def order(self) -> tuple[str, ...]:
        """Row order of the paper table from the spec's `[report] order` (may be empty)."""
        report = self.spec.get("report")
        order = report.get("order") if isinstance(report, dict) else None
        return tuple(map(str, order)) if isinstance(order, list) else ()


@dataclass(frozen=True)
class LoadedResponses:
    """Validated responses of one or several studies, with where they came from."""

    frame: pd.DataFrame
    sources: tuple[str, ...]
    studies: dict[str, StudyMeta] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def read_study_json(path: str | Path) -> StudyMeta:
    """Parse and check a study.json file (contract 5, docs/contracts.md)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise AnalysisInputError(f"cannot read {path}: {err}") from err
    except json.JSONDecodeError as err:
        raise AnalysisInputError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("study_id"), str):
        raise AnalysisInputError(f"{path}: expected a JSON object with a string 'study_id'")
    for key in ("spec", "imagesets", "exclusions"):
        if not isinstance(data.get(key, {}), dict):
            raise AnalysisInputError(f"{path}: '{key}' must be a JSON object")
    return StudyMeta(
        study_id=data["study_id"],
        title=str(data.get("title", data["study_id"])),
        dataset=str(data.get("dataset", "")),
        spec=dict(data.get("spec", {})),
        spec_sha256=str(data.get("spec_sha256", "")),
        imagesets={str(k): dict(v or {}) for k, v in data.get("imagesets", {}).items()},
        exclusions=dict(data.get("exclusions", {})),
        path=str(path),
    )


def read_responses_csv(path: str | Path) -> pd.DataFrame:
    """Read one responses.csv with every column as text (so exposure stays "125"/"unlimited")."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisInputError(f"{path}: no such file (expected an exported responses.csv)")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError as err:
        raise AnalysisInputError(f"{path} is empty (expected a header and rows)") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise AnalysisInputError(f"{path} is not a readable CSV file: {err}") from err
    return raw


def read_responses_db(url: str, study_id: str | None = None) -> pd.DataFrame:
    """Read the `responses_export` view through SQLAlchemy, optionally for one study."""
    import sqlalchemy as sa

    query = f"SELECT * FROM {DB_VIEW}"
    params: dict[str, str] = {}
    if study_id is not None:
        query += " WHERE study_id = :study_id"
        params["study_id"] = study_id
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as err:
        raise AnalysisInputError(f"bad database URL {url!r}: {err}") from err
    try:
        with engine.connect() as conn:
            raw = pd.read_sql(sa.text(query), conn, params=params)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as err:
        first = str(err).splitlines()[0]
        raise AnalysisInputError(f"cannot read view {DB_VIEW} from {url}: {first}") from err
    finally:
        engine.dispose()
    if raw.empty:
        which = f" for study_id {study_id!r}" if study_id is not None else ""
        raise AnalysisInputError(f"{url}: view {DB_VIEW} has no responses{which}")
    return _as_text(raw)


def _as_text(raw: pd.DataFrame) -> pd.DataFrame:
    """Render database values as the text the CSV export would hold (NULL -> empty)."""
    return pd.DataFrame({col: _column_text(raw[col]) for col in raw.columns}, index=raw.index)


def _column_text(values: pd.Series) -> pd.Series:
    missing = values.isna()
    if pd.api.types.is_float_dtype(values):
        # 125.0 -> "125" so that integer-valued numbers read back like the CSV export's.
        whole = np.isfinite(values) & (values == values.round())
        text = values.astype(str).where(~whole, values.where(whole, 0).astype("int64").astype(str))
    elif pd.api.types.is_datetime64_any_dtype(values):
        text = values.map(lambda v: v.isoformat() if v is not pd.NaT else "")
    else:
        text = values.astype(str)
    return text.where(~missing, "").astype(str)


def _studies_beside(paths: Sequence[Path]) -> dict[str, StudyMeta]:
    studies: dict[str, StudyMeta] = {}
    for path in paths:
        candidate = path.parent / STUDY_JSON
        if candidate.is_file():
            meta = read_study_json(candidate)
            studies.setdefault(meta.study_id, meta)
    return studies


def load_responses(
    paths: Sequence[str | Path] = (),
    db_url: str | None = None,
    study_id: str | None = None,
    study_json: Sequence[str | Path] = (),
) -> LoadedResponses:
    """Load and validate responses from CSV files and/or a database URL into one frame."""
    if not paths and db_url is None:
        raise AnalysisInputError("no responses given: pass responses.csv files or --db URL")
    frames: list[pd.DataFrame] = []
    sources: list[str] = []
    for path in map(Path, paths):
        frames.append(validate_responses(read_responses_csv(path), str(path)))
        sources.append(str(path))
    if db_url is not None:
        frames.append(validate_responses(read_responses_db(db_url, study_id), db_url))
        sources.append(db_url)
    frame = pd.concat(frames, ignore_index=True)
    if study_id is not None:
        frame = frame[frame["study_id"] == study_id].reset_index(drop=True)
        if frame.empty:
            raise AnalysisInputError(f"no responses for study_id {study_id!r} in the input")
    _check_no_duplicates(frame)
    studies = _studies_beside([Path(p) for p in paths])
    studies.update({m.study_id: m for m in map(read_study_json, study_json)})
    present = set(frame["study_id"].unique())
    studies = {sid: m for sid, m in studies.items() if sid in present}
    notes = _check_against_studies(frame, studies)
    return LoadedResponses(frame=frame, sources=tuple(sources), studies=studies, notes=notes)


def _check_no_duplicates(frame: pd.DataFrame) -> None:
    keys = ["study_id", "participant_id", "trial_index"]
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        row = frame.loc[dup, keys].iloc[0]
        raise AnalysisInputError(
            f"trial {row['trial_index']} of participant {row['participant_id']!r} in study "
            f"{row['study_id']!r} appears more than once (the same export loaded twice?)"
        )


def _check_against_studies(frame: pd.DataFrame, studies: dict[str, StudyMeta]) -> tuple[str, ...]:
    """Check methods against each study.json's image sets; note studies without one."""
    notes: list[str] = []
    for sid, rows in frame.groupby("study_id", sort=True):
        meta = studies.get(str(sid))
        if meta is None:
            notes.append(
                f"study {sid!r}: no study.json found; built-in exclusion defaults were used "
                "and method names were not checked against the study's image sets"
            )
            continue
        used = set(rows["method_a"].unique()) | set(rows["method_b"].unique())
        unknown = sorted(used - meta.methods)
        if unknown:
            raise AnalysisInputError(
                f"study {sid!r}: methods {', '.join(map(repr, unknown))} are not image sets of "
                f"{meta.path} (expected one of {', '.join(sorted(meta.methods))})"
            )
        _check_catch_real(rows, meta)
    return tuple(notes)


def _check_catch_real(rows: pd.DataFrame, meta: StudyMeta) -> None:
    """Catch rows must show the study's own real set (whatever it is called) as method_a."""
    named = set(rows.loc[rows["kind"] == "catch", "method_a"].unique())
    if meta.real_set is not None and named - {meta.real_set}:
        raise AnalysisInputError(
            f"study {meta.study_id!r}: catch rows have method_a {sorted(named)[0]!r}, but "
            f"{meta.path} names {meta.real_set!r} as the real set ([catch] real)"
        )


__all__ = [
    "COLUMNS",
    "DB_VIEW",
    "LoadedResponses",
    "StudyMeta",
    "load_responses",
    "read_responses_csv",
    "read_responses_db",
    "read_study_json",
]
