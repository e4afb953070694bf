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
    "task",
)
# Columns an older export may lack, with the value they mean there.
OPTIONAL_COLUMNS: dict[str, str] = {"task": "paired"}

KINDS: tuple[str, ...] = ("test", "practice", "catch")
# The CRN paper's timed exposures, in ms (its MTurk scripts' 125 ... 8000).
PAPER_EXPOSURES_MS: tuple[int, ...] = (125, 250, 500, 1000, 2000, 4000, 8000)
UNLIMITED = "unlimited"
CATCH_COMPARISON = "catch"

# What a row's `task` column says it came from: two images side by side, or one image at a time
# ("real or fake?"), at fixed exposures or on an adaptive staircase.
PAIRED = "paired"
REAL_FAKE = "real_fake"
STAIRCASE = "staircase"
SINGLE_TASKS: tuple[str, ...] = (REAL_FAKE, STAIRCASE)
TASKS: tuple[str, ...] = (PAIRED, *SINGLE_TASKS)
