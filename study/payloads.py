"""Validation of the participant API's JSON bodies: types, ranges; unknown keys are refused."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from study.httperrors import BadRequestError, InvalidError

CHOICES = ("left", "right")
EVENT_TYPES = (
    "focus_lost",
    "focus_back",
    "visibility_hidden",
    "resize",
    "fullscreen_enter",
    "fullscreen_exit",
)
MAX_EVENTS = 50
MAX_DETAIL = 500
MAX_PARAMS = 20
MAX_PARAM_CHARS = 512


def parse_json_object(data: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or BadRequestError naming what was wrong."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequestError("request body is not valid JSON (expected a JSON object)") from None
    if not isinstance(value, dict):
        raise BadRequestError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _number(body: dict, key: str, low: float, high: float, *, low_open: bool, required: bool):
    value = body.get(key)
    if value is None:
        if required:
            raise InvalidError(f"'{key}' is required (a number)")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidError(f"'{key}' must be a number, got {_show(value)}")
    if value < low or (low_open and value == low) or value > high:
        bracket = "(" if low_open else "["
        raise InvalidError(f"'{key}' must be in {bracket}{low:g}, {high:g}], got {value:g}")
    return float(value)


def _integer(body: dict, key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidError(f"'{key}' must be an integer in [{low}, {high}], got {_show(value)}")
    return value


def _show(value: Any, limit: int = 40) -> str:
    # JSON escapes control characters, so user-supplied text cannot break the one-line message.
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_keys(body: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        shown = ", ".join(_show(key) for key in unknown[:5])
        raise InvalidError(f"unexpected field(s) {shown} (allowed: {', '.join(allowed)})")


@dataclass(frozen=True)
class AnswerPayload:
    """One validated answer as sent by the browser."""

    choice: str
    response_ms: float
    exposure_ms_measured: float | None
    frame_ms: float | None
    dpr: float | None
    window_w: int | None
    window_h: int | None
    focus_lost: int

    def sha256(self) -> str:
        """Hash of the canonical payload: equal for a retry, different for a changed answer."""
        text = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


ANSWER_KEYS = tuple(AnswerPayload.__dataclass_fields__)


def parse_answer(body: dict[str, Any]) -> AnswerPayload:
    """Validate an answer body (API in docs/contracts.md); InvalidError names the bad field."""
    _check_keys(body, ANSWER_KEYS)
    choice = body.get("choice")
    if choice not in CHOICES:
        raise InvalidError(f'\'choice\' must be "left" or "right", got {_show(choice)}')
    focus = body.get("focus_lost", False)
    if focus not in (True, False, 0, 1) or isinstance(focus, float):
        raise InvalidError(f"'focus_lost' must be true/false or 0/1, got {_show(focus)}")
    return AnswerPayload(
        choice=choice,
        response_ms=_number(body, "response_ms", 0, 3_600_000, low_open=True, required=True),
        exposure_ms_measured=_number(
            body, "exposure_ms_measured", 0, 600_000, low_open=False, required=False
        ),
        frame_ms=_number(body, "frame_ms", 0, 1000, low_open=True, required=False),
        dpr=_number(body, "dpr", 0, 16, low_open=True, required=False),
        window_w=_integer(body, "window_w", 0, 100_000),
        window_h=_integer(body, "window_h", 0, 100_000),
        focus_lost=int(bool(focus)),
    )


@dataclass(frozen=True)
class EventIn:
    """One browser event to store."""

    type: str
    trial_id: int | None
    detail: str | None


def parse_events(body: dict[str, Any]) -> list[EventIn]:
    """Validate an events body: 1..50 events of known types."""
    _check_keys(body, ("events",))
    events = body.get("events")
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        raise InvalidError(f"'events' must be a list of 1 to {MAX_EVENTS} events")
    out = []
    for index, item in enumerate(events):
        where = f"events[{index}]"
        if not isinstance(item, dict):
            raise InvalidError(f"{where} must be an object")
        _check_keys(item, ("type", "trial_id", "detail"))
        if item.get("type") not in EVENT_TYPES:
            raise InvalidError(f"{where}.type must be one of {', '.join(EVENT_TYPES)}")
        trial_id = _integer(item, "trial_id", 1, 2**62)
        detail = item.get("detail")
        if detail is not None and (not isinstance(detail, str) or len(detail) > MAX_DETAIL):
            raise InvalidError(
                f"{where}.detail must be a string of at most {MAX_DETAIL} characters"
            )
        out.append(EventIn(item["type"], trial_id, detail))
    return out


@dataclass(frozen=True)
class EnrolPayload:
    """The page's platform parameters and window size at enrolment."""

    params: dict[str, str]
    window_w: int | None
    window_h: int | None


def parse_enrol(body: dict[str, Any]) -> EnrolPayload:
    """Validate an enrolment body: string parameters only, bounded in number and length."""
    _check_keys(body, ("params", "window_w", "window_h"))
    params = body.get("params", {})
    if not isinstance(params, dict) or len(params) > MAX_PARAMS:
        raise InvalidError(f"'params' must be an object of at most {MAX_PARAMS} string values")
    for key, value in params.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > MAX_PARAM_CHARS:
            raise InvalidError(
                f"params[{_show(key)}] must be a string of at most {MAX_PARAM_CHARS} characters"
            )
    return EnrolPayload(
        params=dict(params),
        window_w=_integer(body, "window_w", 0, 100_000),
        window_h=_integer(body, "window_h", 0, 100_000),
    )
