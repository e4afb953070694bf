"""The keys of every study.toml table: type checks, defaults and documentation in one place.

`study.spec` parses with these declarations and renders docs/study-spec.md from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
SAFE_CODE = re.compile(r"^[A-Za-z0-9_-]*$")
UNLIMITED = "unlimited"
EXPOSURE_TEXT = 'a positive number of milliseconds or "unlimited"'
REQUIRED = object()


class InvalidValueError(Exception):
    """A value does not fit its key; `suffix` points inside lists (e.g. "[2]")."""

    def __init__(self, expected: str, value: Any, suffix: str = ""):
        super().__init__(expected)
        self.expected, self.value, self.suffix = expected, value, suffix


def show(value: Any) -> str:
    """A value as it would read in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@dataclass(frozen=True)
class Key:
    """One key of a table: what it expects (text for errors and docs), its check and default."""

    name: str
    expected: str
    check: Callable[[Any], Any]
    default: Any = REQUIRED
    doc: str = ""


@dataclass
class Context:
    """Collects problems while parsing, each prefixed with the file name."""

    source: str
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        """Record one problem at `where` (a dotted key path)."""
        self.problems.append(f"{self.source}: {where}: {message}")


def _string(pattern: re.Pattern[str] | None = None, allow_empty: bool = False):
    def check(value: Any) -> str:
        if not isinstance(value, str) or (not value and not allow_empty):
            raise InvalidValueError("", value)
        if pattern is not None and not pattern.match(value):
            raise InvalidValueError("", value)
        return value

    return check


def _integer(minimum: int):
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidValueError("", value)
        return value

    return check


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidValueError("", value)
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValueError("", value)
    return value


def _choice(options: tuple[str, ...]):
    def check(value: Any) -> str:
        if value not in options:
            raise InvalidValueError("", value)
        return value

    return check


def exposure_key(value: Any) -> str:
    """Normalise one exposure (125, "125" or "unlimited") to its string key."""
    if value == UNLIMITED:
        return UNLIMITED
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return str(int(value))
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidValueError(EXPOSURE_TEXT, value)
    return str(value)


def _exposures(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidValueError("", value)
    keys = []
    for index, item in enumerate(value):
        try:
            key = exposure_key(item)
        except InvalidValueError:
            raise InvalidValueError(EXPOSURE_TEXT, item, f"[{index}]") from None
        if key in keys:
            raise InvalidValueError(
                f"each exposure once ({key} is listed twice)", item, f"[{index}]"
            )
        keys.append(key)
    return tuple(keys)


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidValueError("", value)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not SAFE_NAME.match(item):
            raise InvalidValueError("a study id", item, f"[{index}]")
    return tuple(value)


def _set_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidValueError("", value)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not SAFE_NAME.match(item):
            raise InvalidValueError("a set name", item, f"[{index}]")
    return tuple(value)


SET_NAME = "the name of a set in [sets]"
_NAME = _string(SAFE_NAME)
NAME_TEXT = "letters, digits, '.', '_' or '-'"

SCHEMA: dict[str, tuple[Key, ...]] = {
    "study": (
        Key(
            "id",
            f"a study id of {NAME_TEXT}",
            _NAME,
            doc="Identifies the study in the database and exports.",
        ),
        Key("title", "a non-empty string", _string(), doc="Shown as the page title."),
        Key(
            "dataset",
            "a non-empty string",
            _string(),
            doc="Dataset name, copied to every exported response row.",
        ),
        Key(
            "instructions",
            "a string",
            _string(allow_empty=True),
            "You will see two images side by side. "
            "Choose the one that looks more like a real photograph.",
            "Shown before the first trial.",
        ),
        Key(
            "question",
            "a non-empty string",
            _string(),
            "Which image is more realistic?",
            "Asked on every trial.",
        ),
        Key(
            "trials_per_participant",
            "a positive integer",
            _integer(1),
            40,
            "Test trials per participant, spread evenly over comparisons × exposures; "
            "practice and catch trials come on top.",
        ),
        Key(
            "seed",
            "a non-negative integer",
            _integer(0),
            0,
            "Seeds trial scheduling (with each participant's own seed).",
        ),
    ),
    "comparisons": (
        Key(
            "id",
            f"a comparison id of {NAME_TEXT}",
            _NAME,
            None,
            'Comparison id in exports; default "<a>_vs_<b>". "catch" and "practice" are reserved.',
        ),
        Key("a", SET_NAME, _NAME, doc="Method A: the set whose preference rate is reported."),
        Key(
            "b",
            SET_NAME,
            _NAME,
            doc="Method B: the set it is compared against (images paired by image id).",
        ),
        Key(
            "exposures",
            'a non-empty list of exposures (milliseconds, "unlimited")',
            _exposures,
            doc='Exposure times to test, e.g. [125, 250, 500, 1000, 2000, 4000, 8000, "unlimited"]'
            "; "
            'stored as string keys ("125", "unlimited").',
        ),
    ),
    "practice": (
        Key(
            "trials",
            "a positive integer",
            _integer(1),
            doc="Practice trials shown first (optional table).",
        ),
        Key("a", SET_NAME, _NAME, doc="The correct answer in feedback (usually the real photos)."),
        Key("b", SET_NAME, _NAME, doc="The other set (usually a catch set)."),
        Key("exposure", EXPOSURE_TEXT, exposure_key, UNLIMITED, "Exposure of practice trials."),
        Key(
            "feedback",
            "true or false",
            _boolean,
            True,
            "Tell the participant whether the answer was right.",
        ),
    ),
    "catch": (
        Key(
            "trials",
            "a positive integer",
            _integer(1),
            doc="Catch (sentinel) trials placed at random among the test trials, never first.",
        ),
        Key("real", SET_NAME, _NAME, doc="The set of real photos (the correct answer)."),
        Key(
            "bad",
            SET_NAME,
            _NAME,
            doc='An obviously bad set, of kind "catch" (see `crnkit imageset degrade`).',
        ),
        Key("exposure", EXPOSURE_TEXT, exposure_key, UNLIMITED, "Exposure of catch trials."),
    ),
    "exclusion": (
        Key(
            "min_catch_accuracy",
            "a number from 0 to 1",
            _fraction,
            0.75,
            "Exclude participants whose catch accuracy is below this.",
        ),
        Key(
            "min_response_ms",
            "a non-negative integer",
            _integer(0),
            200,
            "Exclude judgments faster than this (ms from image onset).",
        ),
        Key(
            "exclude_timing_failures",
            "true or false",
            _boolean,
            True,
            "Exclude timed trials whose measured exposure missed the target by more than a frame.",
        ),
        Key(
            "exclude_focus_lost",
            "true or false",
            _boolean,
            False,
            "Exclude judgments during which the page lost focus.",
        ),
        Key(
            "require_complete",
            "true or false",
            _boolean,
            False,
            "Exclude participants who did not finish.",
        ),
    ),
    "platform": (
        Key(
            "kind",
            "one of local, prolific, mturk",
            _choice(("local", "prolific", "mturk")),
            "local",
            "Where participants come from.",
        ),
        Key(
            "completion_code",
            "a code of letters, digits, '_' or '-'",
            _string(SAFE_CODE, allow_empty=True),
            "",
            "Prolific: required, sent back in the completion URL; local: shown at the end; "
            "mturk: sent with the form.",
        ),
        Key(
            "mturk_sandbox",
            "true or false",
            _boolean,
            False,
            "MTurk: expect the worker sandbox rather than the live site.",
        ),
        Key(
            "exclude_studies",
            "a list of study ids",
            _names,
            [],
            "Workers who took part in any of these study ids are refused.",
        ),
    ),
    "sets": (
        Key("path", "a folder path", _string(), doc="Folder of the image set."),
        Key(
            "label",
            "a non-empty string",
            _string(),
            None,
            'Display name in the report and tables, e.g. "CRN (ours)" (default: the set name).',
        ),
    ),
    "report": (
        Key(
            "order",
            "a list of set names",
            _set_names,
            [],
            "Row order of the paper table (sets not listed follow, in table order).",
        ),
    ),
    "display": (
        Key("width", "a positive integer", _integer(1), 512, "CSS pixels per image."),
        Key("height", "a positive integer", _integer(1), 256, "CSS pixels per image."),
        Key(
            "min_window_width",
            "a non-negative integer",
            _integer(0),
            1100,
            "Refuse to start in a narrower window (CSS px).",
        ),
        Key(
            "min_window_height",
            "a non-negative integer",
            _integer(0),
            400,
            "Refuse to start in a lower window (CSS px).",
        ),
        Key(
            "fullscreen", "true or false", _boolean, False, "Ask for fullscreen before the trials."
        ),
        Key(
            "break_every",
            "a non-negative integer",
            _integer(0),
            0,
            "Offer a break after this many trials (0: no breaks).",
        ),
    ),
}

TOP_LEVEL = (
    "study",
    "sets",
    "comparisons",
    "practice",
    "catch",
    "exclusion",
    "platform",
    "display",
    "report",
)
OPTIONAL_TABLES = ("practice", "catch")


def check_unknown(ctx: Context, table: dict, where: str, allowed) -> None:
    """Report every key of `table` that is not in `allowed` (typos must not pass silently)."""
    for key in table:
        if key not in allowed:
            path = f"{where}.{key}" if where else key
            ctx.add(path, f"unknown key (expected one of: {', '.join(allowed)})")


def read_values(ctx: Context, table: dict, where: str, section: str) -> dict[str, Any]:
    """Check the keys of `table` against SCHEMA[section]; return the valid, normalised values."""
    keys = SCHEMA[section]
    check_unknown(ctx, table, where, [k.name for k in keys])
    values: dict[str, Any] = {}
    for key in keys:
        if key.name not in table:
            if key.default is REQUIRED:
                ctx.add(f"{where}.{key.name}", f"required key is missing (expected {key.expected})")
            elif key.default is not None:
                values[key.name] = (
                    tuple(key.default) if isinstance(key.default, list) else key.default
                )
            continue
        try:
            values[key.name] = key.check(table[key.name])
        except InvalidValueError as err:
            ctx.add(
                f"{where}.{key.name}{err.suffix}",
                f"expected {err.expected or key.expected}, got {show(err.value)}",
            )
    return values


def read_table(ctx: Context, doc: dict, section: str) -> dict[str, Any]:
    """Read table `section` of the document (absent optional tables take every default)."""
    table = doc.get(section)
    if table is None:
        if section == "study":
            ctx.add("study", "required table is missing (expected [study] with id, title, dataset)")
            return {}
        table = {}
    if not isinstance(table, dict):
        ctx.add(section, f"expected a table, got {show(table)}")
        return {}
    return read_values(ctx, table, section, section)
