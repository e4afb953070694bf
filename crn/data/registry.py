"""The explicit registry of data sources: name -> class, and `open_source`."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from crn.data.sources.ade20k import ADE20KSource
from crn.data.sources.base import Source
from crn.data.sources.cityscapes import CityscapesSource
from crn.data.sources.folders import FoldersSource
from crn.data.sources.nyu import NYUSource
from crn.data.sources.synthetic import SyntheticSource
from crn.errors import UserError

SOURCES: dict[str, type] = {
    "synthetic": SyntheticSource,
    "cityscapes": CityscapesSource,
    "ade20k": ADE20KSource,
    "nyu": NYUSource,
    "folders": FoldersSource,
}


def source_options(name: str) -> list[str]:
    """The option names the source `name` accepts."""
    params = inspect.signature(SOURCES[name].__init__).parameters
    return [p for p in params if p not in ("self", "root")]


def open_source(name: str, root: str | Path, **options: Any) -> Source:
    """Open the data source `name` at `root` with its `options` (validated)."""
    if name not in SOURCES:
        raise UserError(f"unknown data source '{name}' (expected one of {', '.join(SOURCES)})")
    allowed = source_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        expected = ", ".join(allowed) if allowed else "none"
        raise UserError(f"source '{name}' has no option {', '.join(unknown)} (options: {expected})")
    if not Path(root).exists():
        raise UserError(f"{root}: data root not found for source '{name}'")
    return SOURCES[name](root, **options)
