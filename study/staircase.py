"""The adaptive exposure rule of HYPE_time tasks: a transformed up-down staircase, pure functions.

After `correct_to_shorten` correct answers in a row the exposure is divided by the step factor;
after `wrong_to_lengthen` wrong answers in a row it is multiplied by it (Levitt 1971; HYPE uses
3 and 1, which converge on the exposure answered correctly 79.4 % of the time, 0.5^(1/3) =
0.794). Until the first reversal the larger `initial_step_factor` is used. Levels stay within
[min_ms, max_ms] and are quantised to whole frames of the participant's display when served.

The server keeps no staircase state: the level of the next trial is replayed from the
participant's earlier answers in that task, so a reload, a retry or a second server process
always computes the same exposure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from study.spec_tasks import StaircaseSpec

DEFAULT_FRAME_MS = 1000.0 / 60.0


@dataclass(frozen=True)
class StaircaseState:
    """Where a staircase stands before its next trial."""

    level_ms: float
    run_correct: int = 0
    run_wrong: int = 0
    direction: int = 0  # -1: the last move shortened the exposure, +1: lengthened it
    reversals: int = 0


def start(rule: StaircaseSpec) -> StaircaseState:
    """The state before the first trial."""
    return StaircaseState(level_ms=min(max(rule.start_ms, rule.min_ms), rule.max_ms))


def _move(rule: StaircaseSpec, state: StaircaseState, direction: int) -> StaircaseState:
    factor = rule.step_factor if state.reversals else rule.initial_step_factor
    reversal = state.direction != 0 and direction != state.direction
    level = state.level_ms * factor**direction
    return StaircaseState(
        level_ms=min(max(level, rule.min_ms), rule.max_ms),
        direction=direction,
        reversals=state.reversals + int(reversal),
    )


def advance(rule: StaircaseSpec, state: StaircaseState, correct: bool) -> StaircaseState:
    """The state after one answer (correct or not)."""
    if correct:
        state = replace(state, run_correct=state.run_correct + 1, run_wrong=0)
        if state.run_correct >= rule.correct_to_shorten:
            return _move(rule, state, -1)
        return state
    state = replace(state, run_wrong=state.run_wrong + 1, run_correct=0)
    if state.run_wrong >= rule.wrong_to_lengthen:
        return _move(rule, state, +1)
    return state


def replay(rule: StaircaseSpec, outcomes: Iterable[bool]) -> StaircaseState:
    """The state after a sequence of answers, from the start."""
    state = start(rule)
    for correct in outcomes:
        state = advance(rule, state, bool(correct))
    return state


def quantise_ms(level_ms: float, frame_ms: float | None) -> int:
    """The whole-frame exposure nearest `level_ms` (at least one frame), in whole ms."""
    frame = frame_ms if frame_ms and 0 < frame_ms <= 1000 else DEFAULT_FRAME_MS
    frames = max(1, round(level_ms / frame))
    return max(1, round(frames * frame))


def frames(exposure_ms: float, frame_ms: float) -> int:
    """How many frames of `frame_ms` an exposure covers (the page shows whole frames)."""
    return max(1, math.floor(exposure_ms / frame_ms + 0.5))
