"""Bring a study database made by an earlier crnkit up to the current schema, keeping its data.

Columns added since (trial.task, participant.condition) are added with their defaults, and the
`responses_export` view is recreated when its columns are not the current ones.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

# (table, column, SQL type and default) added after the first schema; existing rows get the
# default, which is what they were (paired trials, no condition).
ADDED_COLUMNS = (
    ("trial", "task", "VARCHAR(16) NOT NULL DEFAULT 'paired'"),
    ("participant", "condition", "VARCHAR(128)"),
)


def add_missing_columns(conn: Connection) -> list[str]:
    """Add every column of ADDED_COLUMNS a table lacks; return "table.column" of those added."""
    added = []
    inspector = inspect(conn)
    for table, column, ddl in ADDED_COLUMNS:
        names = {c["name"] for c in inspector.get_columns(table)}
        if column not in names:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
            added.append(f"{table}.{column}")
    return added


def view_is_current(conn: Connection) -> bool:
    """True when the export view exists with the current columns; drops an outdated one."""
    from study.db import EXPORT_COLUMNS, EXPORT_VIEW

    if EXPORT_VIEW not in inspect(conn).get_view_names():
        return False
    columns = tuple(conn.execute(text(f"SELECT * FROM {EXPORT_VIEW} WHERE 1 = 0")).keys())
    if columns == EXPORT_COLUMNS:
        return True
    conn.execute(text(f"DROP VIEW {EXPORT_VIEW}"))
    return False
