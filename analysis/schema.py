"""The response export contract (DESIGN.md, contract 5): column names, kinds and cell keys."""

from __future__ import annotations

import math
from collections.abc import Iterable

# Contract 5 columns, in the order the export writes them.
COLUMNS: tuple[str, ...] = (
    "study_id",
    "dataset",
    "participant_id",
    "platform",
    "trial_index",
    "kind",
    "comparison",
    "image_id",
    "method_a",
    "method_b",
    "left_method",
    "right_method",
    "chosen_method",
    "exposure",
    "exposure_ms_target",
    "exposure_ms_measured",
    "timing_ok",
    "frame_ms",
    "dpr",
    "response_ms",
    "shown_at",
    "answered_at",
    "window_w",
    "window_h",
    "focus_lost",
    "user_agent",
    "task",
)
# Columns an older export may lack, with the value they mean there.
OPTIONAL_COLUMNS: dict[str, str] = {"task": "paired"}
PAIRED = "paired"
SINGLE_TASKS: tuple[str, ...] = ("real_fake", "staircase")
TASKS: tuple[str, ...] = (PAIRED, *SINGLE_TASKS)

KINDS: tuple[str, ...] = ("test", "practice", "catch")
UNLIMITED = "unlimited"
CATCH_COMPARISON = "catch"
REAL_METHOD = "real"

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
