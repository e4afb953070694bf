"""The response export contract as analysis sees it: columns, kinds, cell and cluster keys.

The columns themselves are defined once, in `crnkit_common.responses` (docs/contracts.md),
which the study database's export view uses too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from crnkit_common.responses import CATCH_COMPARISON, COLUMNS, KINDS, UNLIMITED

__all__ = ["CATCH_COMPARISON", "COLUMNS", "KINDS", "UNLIMITED"]

# The one timing rule of the exclusions, quoted verbatim by `--help` and docs/analysis.md.
TIMING_RULE = (
    "a trial fails timing when the browser flagged it (timing_ok = 0, at any exposure, "
    "unlimited included), or, with a tolerance T, when a timed trial's |measured - target| "
    "exceeds T ms or was not measured"
)

# A cell of the results table: one comparison at one exposure within one data set.
CELL_KEYS: list[str] = ["dataset", "comparison", "exposure"]
# Participants are clustered within their study (ids of different studies may collide).
PARTICIPANT_KEYS: list[str] = ["study_id", "participant_id"]
# Images are the same layouts only within one data set.
IMAGE_KEYS: list[str] = ["dataset", "image_id"]


def exposure_ms(exposure: str) -> float:
    """Milliseconds of an exposure key; `inf` for "unlimited"."""
    return math.inf if exposure == UNLIMITED else float(exposure)


def exposure_order(values: Iterable[str]) -> list[str]:
    """Distinct exposure keys sorted by duration, "unlimited" last."""
    return sorted(set(values), key=exposure_ms)


def exposure_label(exposure: str) -> str:
    """Human label of an exposure key ("125 ms", "unlimited")."""
    return exposure if exposure == UNLIMITED else f"{exposure} ms"
