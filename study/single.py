"""Single-image (real-or-fake) trials on the server: what an answer means, practice feedback,
and the exposure of the next staircase trial.

A single-image trial stores the set it shows as both `left_method` and `right_method`. Its
`method_a`/`method_b` are the task's generated and real sets (catch and practice trials keep
their tables' order: the real set first). An answer "real" stores the real set as
`chosen_method`, "fake" the other one, so a judgment is correct exactly when `chosen_method`
equals the set shown.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from crnkit_common.responses import STAIRCASE
from study import staircase
from study.db import Response, Trial
from study.spec_tasks import StaircaseSpec

T = Trial.__table__
R = Response.__table__
NO_ANSWER = ""  # chosen_method of a trial whose response deadline passed


def real_set(row) -> str:
    """The real set of a single-image trial's pair (test: method_b; catch/practice: method_a)."""
    return row.method_b if row.kind == "test" else row.method_a


def chosen_for(row, choice: str) -> str:
    """The `chosen_method` stored for a validated choice on this trial."""
    if choice == "none":
        return NO_ANSWER
    if choice in ("left", "right"):
        return row.left_method if choice == "left" else row.right_method
    real = real_set(row)
    if choice == "real":
        return real
    return row.method_a if real == row.method_b else row.method_b


def single_feedback(row, chosen: str) -> dict:
    """Practice feedback on a single image: right or wrong, and what the image was."""
    shown = row.left_method
    return {"correct": chosen == shown, "answer": "real" if shown == real_set(row) else "fake"}


def staircase_exposure(conn: Connection, rule: StaircaseSpec, pid: int, row) -> int:
    """The whole-frame exposure (ms) of a staircase trial, from the task's earlier answers."""
    earlier = conn.execute(
        select(R.c.chosen_method, T.c.left_method)
        .select_from(T.join(R, R.c.trial_id == T.c.id))
        .where(
            T.c.participant_id == pid,
            T.c.comparison == row.comparison,
            T.c.task == STAIRCASE,
            T.c.position < row.position,
        )
        .order_by(T.c.position)
    ).all()
    state = staircase.replay(rule, (chosen == shown for chosen, shown in earlier))
    return staircase.quantise_ms(state.level_ms, last_frame_ms(conn, pid))


def last_frame_ms(conn: Connection, pid: int) -> float | None:
    """The display frame duration the participant's browser reported last, if any."""
    return conn.execute(
        select(R.c.frame_ms)
        .select_from(T.join(R, R.c.trial_id == T.c.id))
        .where(T.c.participant_id == pid, R.c.frame_ms.is_not(None))
        .order_by(T.c.position.desc())
        .limit(1)
    ).scalar()
