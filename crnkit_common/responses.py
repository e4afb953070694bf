"""The response export contract (docs/contracts.md, responses): columns, kinds, exposure keys.

The study database's `responses_export` view and the analysis loader both take their column
list from here, so the two cannot drift apart.
"""

from __future__ import annotations

# Columns of responses.csv and of the responses_export view, in the order written.
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
)

KINDS: tuple[str, ...] = ("test", "practice", "catch")
UNLIMITED = "unlimited"
CATCH_COMPARISON = "catch"
