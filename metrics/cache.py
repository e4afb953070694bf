"""A cache of per-image results (features, predictions, distances) keyed by image sha256.

One SQLite file holds every namespace ("what was computed, with which weights"). Each batch
is committed as it is computed, so an interrupted run resumes where it stopped, and a later
run, another metric or another set containing the same image reuses the stored value.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from crn.errors import UserError

_SCHEMA = """CREATE TABLE IF NOT EXISTS cache (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (namespace, key)) WITHOUT ROWID"""
_CHUNK = 500  # keys per SELECT (SQLite caps bound parameters)


def default_cache_path() -> Path:
    """$CRNKIT_CACHE, else ~/.cache/crnkit/metrics-cache.sqlite."""
    env = os.environ.get("CRNKIT_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "crnkit" / "metrics-cache.sqlite"


class ResultCache:
    """Byte values by (namespace, key) in SQLite; `path=None` keeps them in memory only."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path)
        target = ":memory:"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.path)
        try:
            self._db = sqlite3.connect(target, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise UserError(f"{target}: cannot use as the metrics cache ({err})") from None

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored values of those `keys` that are present."""
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _CHUNK):
            part = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, value FROM cache WHERE namespace = ? AND key IN ({marks})",
                [namespace, *part],
            )
            found.update((key, bytes(value)) for key, value in rows)
        return found

    def put_many(self, namespace: str, items: Iterable[tuple[str, bytes]]) -> None:
        """Store values and commit (one transaction)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO cache (namespace, key, value) VALUES (?, ?, ?)",
                [(namespace, key, value) for key, value in items],
            )

    def count(self, namespace: str) -> int:
        """Number of values stored under `namespace`."""
        row = self._db.execute("SELECT COUNT(*) FROM cache WHERE namespace = ?", [namespace])
        return int(row.fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def array_bytes(array: np.ndarray) -> bytes:
    """A float32 vector as raw little-endian bytes."""
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def bytes_array(data: bytes) -> np.ndarray:
    """Inverse of `array_bytes`."""
    return np.frombuffer(data, dtype="<f4").copy()
