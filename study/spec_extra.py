"""The study.toml keys added for single-image tasks, timing, questions and conditions.

Keys of the original tables stay in `study.spec_schema`; this module declares the keys added to
them (`EXTRA_KEYS`) and the new tables (`TASK_TABLES`) with the same `Key` machinery, so the
parser and docs/study-spec.md read them like every other key.
"""

from __future__ import annotations

from typing import Any

from crnkit_common.responses import PAIRED, REAL_FAKE, STAIRCASE
from study import spec_schema as sc

REAL_FAKE_EXPOSURE_TEXT = 'a positive number of milliseconds, "unlimited" or "staircase"'
TASK_KINDS = (PAIRED, REAL_FAKE)
FILE_TEXT = "a path to a Markdown file (relative to study.toml), or empty"


def real_fake_exposure(value: Any) -> str:
    """An exposure of a real-or-fake task: an exposure key, or "staircase" (adaptive)."""
    if value == STAIRCASE:
        return STAIRCASE
    try:
        return sc.exposure_key(value)
    except sc.InvalidValueError:
        raise sc.InvalidValueError(REAL_FAKE_EXPOSURE_TEXT, value) from None


def _even_trials(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2 or value % 2:
        raise sc.InvalidValueError("", value)
    return value


def _number(minimum: float, maximum: float | None = None, open_low: bool = False):
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise sc.InvalidValueError("", value)
        if value < minimum or (open_low and value == minimum):
            raise sc.InvalidValueError("", value)
        if maximum is not None and value > maximum:
            raise sc.InvalidValueError("", value)
        return float(value)

    return check


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise sc.InvalidValueError("", value)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not sc.SAFE_NAME.match(item):
            raise sc.InvalidValueError("a comparison or task id", item, f"[{index}]")
    return tuple(value)


_FILE = sc._string(allow_empty=True)
_TASK_CHOICE = sc.Key(
    "task",
    "one of paired, real_fake",
    sc._choice(TASK_KINDS),
    None,
    'Pairs or single images; default "paired" when the study has [[comparisons]], else real_fake.',
)

EXTRA_KEYS: dict[str, tuple[sc.Key, ...]] = {
    "study": (
        sc.Key(
            "instructions_file",
            FILE_TEXT,
            _FILE,
            "",
            "Instructions as Markdown, shown before the first trial instead of `instructions` "
            "(raw HTML is shown as text, not run).",
        ),
        sc.Key(
            "consent_file",
            FILE_TEXT,
            _FILE,
            "",
            "Consent text as Markdown, shown above the Start button (default: a one-line "
            "agreement).",
        ),
    ),
    "practice": (_TASK_CHOICE,),
    "catch": (_TASK_CHOICE,),
    "display": (
        sc.Key(
            "max_scale",
            "a number from 1 to 8",
            _number(1.0, 8.0),
            1.0,
            "Enlarge images up to this factor of width × height when the window has room "
            "(aspect kept; 1: never).",
        ),
        sc.Key(
            "allow_mobile",
            "true or false",
            sc._boolean,
            False,
            "Let phones and tablets take part; by default a touch-only device is refused "
            "with a message.",
        ),
    ),
}

TASK_TABLES: dict[str, tuple[sc.Key, ...]] = {
    "real_fake": (
        sc.Key(
            "id",
            f"a task id of {sc.NAME_TEXT}",
            sc._NAME,
            None,
            'Task id in exports (the `comparison` column); default "<method>_real_fake".',
        ),
        sc.Key(
            "method",
            sc.SET_NAME,
            sc._NAME,
            doc="The generated set whose images are judged real or fake.",
        ),
        sc.Key("real", sc.SET_NAME, sc._NAME, doc="The real photos mixed in (kind real)."),
        sc.Key(
            "exposure",
            REAL_FAKE_EXPOSURE_TEXT,
            real_fake_exposure,
            sc.UNLIMITED,
            '"unlimited": HYPE∞; milliseconds: a fixed exposure; "staircase": HYPE_time, '
            "exposure set per trial by [staircase].",
        ),
        sc.Key(
            "trials",
            "an even integer of at least 2",
            _even_trials,
            20,
            "Trials per participant, exactly half real and half generated images.",
        ),
    ),
    "staircase": (
        sc.Key(
            "start_ms",
            "a number of milliseconds ≥ 1",
            _number(1.0),
            500.0,
            "Exposure of each participant's first staircase trial.",
        ),
        sc.Key(
            "min_ms",
            "a number of milliseconds ≥ 1",
            _number(1.0),
            100.0,
            "Shortest exposure (HYPE_time's floor, 100 ms).",
        ),
        sc.Key(
            "max_ms",
            "a number of milliseconds ≥ 1",
            _number(1.0),
            1000.0,
            "Longest exposure.",
        ),
        sc.Key(
            "correct_to_shorten",
            "a positive integer",
            sc._integer(1),
            3,
            "Correct answers in a row that shorten the exposure by one step (HYPE: 3).",
        ),
        sc.Key(
            "wrong_to_lengthen",
            "a positive integer",
            sc._integer(1),
            1,
            "Wrong answers in a row that lengthen it by one step (HYPE: 1); 3 and 1 converge "
            "on 79.4 % correct (Levitt 1971).",
        ),
        sc.Key(
            "step_factor",
            "a number above 1",
            _number(1.0, open_low=True),
            1.25,
            "Exposure is multiplied or divided by this per step once the first reversal happened.",
        ),
        sc.Key(
            "initial_step_factor",
            "a number above 1",
            _number(1.0, open_low=True),
            1.6,
            "Larger step used until the first reversal, to reach the threshold region quickly.",
        ),
        sc.Key(
            "threshold_reversals",
            "a positive integer",
            sc._integer(1),
            6,
            "A participant's threshold is the geometric mean exposure at the last this many "
            "reversals; the staircase stops after the task's `trials`.",
        ),
    ),
    "timing": (
        sc.Key(
            "fixation_ms",
            "a non-negative integer",
            sc._integer(0),
            500,
            "Fixation mark before each trial's image(s), in ms.",
        ),
        sc.Key(
            "mask_ms",
            "a non-negative integer",
            sc._integer(0),
            0,
            "How long the mask stays after a timed exposure (0: until the answer).",
        ),
        sc.Key(
            "response_deadline_ms",
            "a non-negative integer",
            sc._integer(0),
            0,
            "Time from image onset to answer; a late trial is stored without a choice "
            "(0: no deadline).",
        ),
    ),
    "questions": (
        sc.Key("age_band", "true or false", sc._boolean, False, "Ask for an age band."),
        sc.Key(
            "vision",
            "true or false",
            sc._boolean,
            False,
            "Ask whether vision is normal or corrected to normal.",
        ),
        sc.Key("comment", "true or false", sc._boolean, False, "Offer a free-text comment box."),
    ),
    "conditions": (
        sc.Key("id", f"a condition id of {sc.NAME_TEXT}", sc._NAME, doc="Condition name."),
        sc.Key(
            "tasks",
            "a non-empty list of comparison and real_fake ids",
            _ids,
            doc="The comparisons and real-or-fake tasks participants in this condition do.",
        ),
    ),
}
