"""Contract 5 exports: `responses.csv`, `study.json` and `participants.csv` from a study database.

Their columns and keys are described in docs/contracts.md.

Everything is read through SQL (the `responses_export` view and plain joins), streamed row by row
so that a million-judgment study exports in constant memory, and written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from crn.errors import UserError
from crn.fsutil import atomic_open
from crn.imageset import MANIFEST, load_imageset
from study.db import EXPORT_COLUMNS, EXPORT_VIEW, make_engine
from study.imagesets import set_digest

PARTICIPANT_COLUMNS = (
    "participant_id",
    "platform",
    "status",
    "trials_answered",
    "trials_total",
    "catch_correct",
    "catch_total",
    "completion_code",
    "started_at",
    "finished_at",
    "worker_hash",
)

_CHUNK_ROWS = 2000

_PARTICIPANTS_SQL = """
SELECT p.public_id AS participant_id, p.platform AS platform, p.status AS status,
       COUNT(r.id) AS trials_answered, COUNT(t.id) AS trials_total,
       SUM(CASE WHEN t.kind = 'catch' AND r.chosen_method = t.method_a THEN 1 ELSE 0 END)
           AS catch_correct,
       SUM(CASE WHEN t.kind = 'catch' THEN 1 ELSE 0 END) AS catch_total,
       p.completion_code AS completion_code, p.created_at AS started_at,
       p.finished_at AS finished_at, p.worker_hash AS worker_hash
FROM participant p
LEFT JOIN trial t ON t.participant_id = p.id
LEFT JOIN response r ON r.trial_id = t.id
{where}
GROUP BY p.id, p.public_id, p.platform, p.status, p.completion_code, p.created_at, p.finished_at,
         p.worker_hash
ORDER BY p.created_at, p.public_id
"""


def sqlalchemy_url(url: str) -> str:
    """`postgresql://…` means psycopg 3 (the `postgres` extra) unless the URL names a driver."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def resolve_db_url(db: str) -> str:
    """A SQLAlchemy URL for `db`: a URL is kept, a path must name an existing SQLite file."""
    if "://" in db:
        return sqlalchemy_url(db)
    path = Path(db)
    if not path.is_file():
        raise UserError(f"--db {db}: no such database file (expected a SQLite file or a URL)")
    return f"sqlite:///{path.resolve()}"


def open_engine(db: str) -> Engine:
    """An engine on an existing study database given as a path or a URL."""
    url = resolve_db_url(db)
    try:
        return make_engine(url)
    except ImportError as err:
        raise UserError(f"--db {db}: the database driver is not installed ({err})") from None


def study_ids(engine: Engine) -> list[str]:
    """The ids of every study stored in the database, sorted."""
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM study ORDER BY id"))]


def pick_study_id(engine: Engine, study_id: str | None) -> str:
    """`study_id` if the database has it, else the only study there; UserError otherwise."""
    ids = study_ids(engine)
    if study_id is not None:
        if study_id not in ids:
            known = ", ".join(ids) or "none"
            raise UserError(f"--study-id {study_id}: not in the database (studies: {known})")
        return study_id
    if len(ids) != 1:
        known = ", ".join(ids) or "none"
        raise UserError(f"the database holds {len(ids)} studies ({known}); pass --study-id")
    return ids[0]


def format_cell(value: Any) -> str:
    """A CSV cell: NULL is empty, booleans are 0/1, whole floats keep their decimal point."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _csv_chunks(
    header: Iterable[str], rows: Iterable[Iterable[Any]], stats: dict[str, int] | None = None
) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([format_cell(v) for v in row])
        if stats is not None:
            stats["rows"] = count
        if count % _CHUNK_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _streamed_rows(engine: Engine, sql: str, params: Mapping[str, Any]) -> Iterator[tuple]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_CHUNK_ROWS).execute(
            text(sql), dict(params)
        )
        for row in result:
            yield tuple(row)


def _check_view_columns(engine: Engine) -> None:
    with engine.connect() as conn:
        columns = tuple(conn.execute(text(f"SELECT * FROM {EXPORT_VIEW} WHERE 1 = 0")).keys())
    if columns != EXPORT_COLUMNS:
        raise UserError(
            f"view {EXPORT_VIEW} has columns {', '.join(columns)}; "
            f"expected contract 5's (docs/contracts.md) {', '.join(EXPORT_COLUMNS)}"
        )


def iter_responses_csv(
    engine: Engine, study_id: str | None = None, stats: dict[str, int] | None = None
) -> Iterator[str]:
    """`responses.csv` as text chunks: the export view in contract-5 order, one row per judgment."""
    _check_view_columns(engine)
    cols = ", ".join(EXPORT_COLUMNS)
    where = "WHERE study_id = :study_id" if study_id is not None else ""
    sql = f"SELECT {cols} FROM {EXPORT_VIEW} {where} ORDER BY study_id, participant_id, trial_index"
    params = {"study_id": study_id} if study_id is not None else {}
    return _csv_chunks(EXPORT_COLUMNS, _streamed_rows(engine, sql, params), stats)


def iter_participants_csv(engine: Engine, study_id: str | None = None) -> Iterator[str]:
    """`participants.csv` as text chunks: one row per participant, for payments."""
    where = "WHERE p.study_id = :study_id" if study_id is not None else ""
    params = {"study_id": study_id} if study_id is not None else {}
    sql = _PARTICIPANTS_SQL.format(where=where)
    return _csv_chunks(PARTICIPANT_COLUMNS, _streamed_rows(engine, sql, params))


def write_chunks_atomic(path: str | os.PathLike[str], chunks: Iterable[str]) -> int:
    """Stream text chunks to a temp file beside `path`, fsync and rename; return chars written."""
    size = 0
    with atomic_open(path, text=True) as fh:
        for chunk in chunks:
            size += fh.write(chunk)
    return size


def _imageset_entry(folder: str | None, digest: str) -> dict[str, Any]:
    # Kind and extras are read from the set folder when it is still there with the same content;
    # the digest always comes from the database, i.e. from the images the study really showed.
    entry: dict[str, Any] = {"kind": None, "path": folder, "sha256": digest, "extra": {}}
    if folder is None or not Path(folder, MANIFEST).is_file():
        return entry
    try:
        imageset = load_imageset(folder)
    except UserError:
        return entry
    if set_digest(imageset) == digest:
        entry.update(kind=imageset.kind, extra=dict(imageset.extra))
    return entry


def study_document(engine: Engine, study_id: str) -> dict[str, Any]:
    """The `study.json` document of a stored study: spec, its sha256, set digests, exclusions."""
    sql = "SELECT title, dataset, spec_json, spec_sha256, imagesets_json FROM study WHERE id = :id"
    with engine.connect() as conn:
        row = conn.execute(text(sql), {"id": study_id}).one_or_none()
    if row is None:
        raise UserError(f"study '{study_id}' is not in the database")
    try:
        spec = json.loads(row.spec_json)
        digests = json.loads(row.imagesets_json or "{}")
    except (TypeError, json.JSONDecodeError) as err:
        raise UserError(f"study '{study_id}': stored spec is not valid JSON ({err})") from None
    folders = spec.get("sets", {})
    return {
        "study_id": study_id,
        "title": row.title,
        "dataset": row.dataset,
        "spec": spec,
        "spec_sha256": row.spec_sha256,
        "imagesets": {
            name: _imageset_entry(folders.get(name), digest)
            for name, digest in sorted(digests.items())
        },
        "exclusions": {
            **spec.get("exclusion", {}),
            "trials_per_participant": spec.get("trials_per_participant"),
        },
    }


def export_study(
    engine: Engine,
    out: str | os.PathLike[str],
    study_id: str | None = None,
    participants_out: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Write responses.csv at `out`, study.json beside it and optionally participants.csv."""
    chosen = pick_study_id(engine, study_id)
    out = Path(out)
    doc = study_document(engine, chosen)
    stats = {"rows": 0}
    write_chunks_atomic(out, iter_responses_csv(engine, chosen, stats))
    study_json = out.with_name("study.json")
    write_chunks_atomic(study_json, [json.dumps(doc, indent=1, sort_keys=True) + "\n"])
    summary: dict[str, Any] = {
        "study_id": chosen,
        "responses": stats["rows"],
        "responses_csv": str(out),
        "study_json": str(study_json),
    }
    if participants_out is not None:
        write_chunks_atomic(participants_out, iter_participants_csv(engine, chosen))
        summary["participants_csv"] = str(participants_out)
    return summary


_STORED_SQL = """
SELECT p.public_id, t.id, t.position, t.left_method, t.right_method, r.chosen_method
FROM response r JOIN trial t ON t.id = r.trial_id JOIN participant p ON p.id = t.participant_id
WHERE p.study_id = :study_id
"""
_DUPLICATES_SQL = """
SELECT r.trial_id FROM response r JOIN trial t ON t.id = r.trial_id
JOIN participant p ON p.id = t.participant_id WHERE p.study_id = :study_id
GROUP BY r.trial_id HAVING COUNT(*) > 1
"""


def integrity_report(
    engine: Engine, study_id: str, acked: list[tuple[str, int, str]]
) -> dict[str, Any]:
    """Compare acknowledged answers with the database: none lost, changed, duplicated or skipped."""
    with engine.connect() as conn:
        stored = conn.execute(text(_STORED_SQL), {"study_id": study_id}).all()
        duplicates = len(conn.execute(text(_DUPLICATES_SQL), {"study_id": study_id}).all())
    by_trial = {row[1]: row for row in stored}
    missing = changed = 0
    for pid, trial_id, choice in acked:
        row = by_trial.get(trial_id)
        if row is None or row[0] != pid:
            missing += 1
        elif row[5] != (row[3] if choice == "left" else row[4]):
            changed += 1
    positions: dict[str, list[int]] = defaultdict(list)
    for row in stored:
        positions[row[0]].append(row[2])
    # Trials are served in order, so a participant's answers must cover positions 0..k-1.
    skipped = sum(1 for pos in positions.values() if sorted(pos) != list(range(len(pos))))
    acked_trials = {trial_id for _, trial_id, _ in acked}
    return {
        "stored": len(stored),
        "acknowledged": len(acked),
        "acknowledged_twice": len(acked) - len(acked_trials),
        "stored_equals_acknowledged": len(stored) == len(acked_trials),
        "missing": missing,
        "changed": changed,
        "duplicates": duplicates,
        "participants_with_gaps": skipped,
        "ok": missing == changed == duplicates == skipped == 0 and len(acked) == len(acked_trials),
    }
