"""Training metrics: running means for the progress bar and a JSONL log per run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from crn.fsutil import atomic_write_text


class RunningMeans:
    """Means of named losses since the last `reset`."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def update(self, values: dict[str, float]) -> None:
        """Add one step's values."""
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        """The current means."""
        return {key: self.sums[key] / self.counts[key] for key in self.sums}

    def reset(self) -> None:
        """Start a new averaging window."""
        self.sums.clear()
        self.counts.clear()


class MetricsLog:
    """Append-only `metrics.jsonl`: one JSON object per line, each with "step" and "kind"."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (non-finite numbers written as null)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(_finite(record), sort_keys=False) + "\n")

    def read(self) -> list[dict[str, Any]]:
        """All records, in order (a torn last line is skipped)."""
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def truncate_after(self, step: int) -> None:
        """Drop records past `step` (a resumed run repeats those steps)."""
        kept = [r for r in self.read() if int(r.get("step", 0)) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def _finite(value: Any) -> Any:
    """Replace NaN/Inf floats by None so the line stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
