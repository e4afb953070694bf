"""Serving trials and storing answers: the participant's hot path, one short write transaction each.

Trials are served strictly in order (only the first unanswered trial is ever served), so the
number of answers equals the position of the next trial and no counting query is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from crnkit_common.responses import STAIRCASE
from study.db import Event, Participant, Prepared, Response, Trial, write_tx
from study.httperrors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from study.participants import clean_user_agent, hash_token, token_owner
from study.payloads import AnswerPayload, EventIn
from study.runtime import StudyRuntime
from study.scheduler import PAIRED
from study.single import chosen_for, single_feedback, staircase_exposure

P = Participant.__table__
T = Trial.__table__
R = Response.__table__
E = Event.__table__
FALLBACK_FRAME_MS = 16.7
# Measurements arrive rounded to 1 µs; the slack keeps float noise (1016.7 − 1000 = 16.70…05)
# from flipping a result that sits exactly on the one-frame boundary.
TIMING_SLACK_MS = 1e-6

T2 = T.alias("nxt")
# One round trip finds the trial, its owner, any stored answer and the trial after it.
_LOOKUP = Prepared(
    select(
        T.c.id,
        T.c.participant_id,
        T.c.position,
        T.c.kind,
        T.c.task,
        T.c.method_a,
        T.c.method_b,
        T.c.left_method,
        T.c.right_method,
        T.c.exposure_ms_target,
        T.c.served_at,
        P.c.token_hash,
        P.c.study_id,
        P.c.trials_total,
        R.c.payload_sha256,
        R.c.timing_ok,
        R.c.chosen_method,
        T2.c.id.label("next_id"),
        T2.c.kind.label("next_kind"),
        T2.c.task.label("next_task"),
        T2.c.image_id.label("next_image_id"),
        T2.c.left_method.label("next_left_method"),
        T2.c.right_method.label("next_right_method"),
        T2.c.exposure_ms_target.label("next_exposure_ms_target"),
        T2.c.served_at.label("next_served_at"),
    )
    .select_from(
        T.join(P, P.c.id == T.c.participant_id)
        .outerjoin(R, R.c.trial_id == T.c.id)
        .outerjoin(
            T2,
            (T2.c.participant_id == T.c.participant_id) & (T2.c.position == T.c.position + 1),
        )
    )
    .where(T.c.id == bindparam("trial_id"))
)
# PostgreSQL: racing answers to one trial queue on its row lock, taken in a statement of its
# own so that the lookup after it sees what the winner committed (READ COMMITTED takes a new
# snapshot per statement). SQLite's BEGIN IMMEDIATE serialises writers already.
_LOCK_TRIAL = Prepared(select(T.c.id).where(T.c.id == bindparam("trial_id")).with_for_update())
_TRIAL_AT = select(
    T.c.id,
    T.c.position,
    T.c.kind,
    T.c.task,
    T.c.comparison,
    T.c.image_id,
    T.c.left_method,
    T.c.right_method,
    T.c.exposure_ms_target,
    T.c.served_at,
).where(T.c.participant_id == bindparam("pid"), T.c.position == bindparam("position"))
_MARK_SERVED = Prepared(
    update(T)
    .where(T.c.id == bindparam("tid"), T.c.served_at.is_(None))
    .values(served_at=bindparam("now"))
)
# Every column of `response` but its key: an answer fills them all.
_RESPONSE_COLUMNS = tuple(c.name for c in R.columns if not c.primary_key)
_INSERT_RESPONSE = Prepared(insert(R).values({c: bindparam(c) for c in _RESPONSE_COLUMNS}))
_ANSWERED = (
    select(func.count(R.c.id))
    .select_from(R.join(T, T.c.id == R.c.trial_id))
    .where(T.c.participant_id == bindparam("pid"))
)
_PARTICIPANT = select(P).where(P.c.id == bindparam("pid"))


def iso(moment: datetime) -> str:
    """ISO-8601 UTC text with milliseconds, like study.db.utc_now()."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timing_ok(target_ms: int | None, measured_ms: float | None, frame_ms: float | None) -> int:
    """1 iff |measured − target| ≤ one measured frame (16.7 ms if unknown); unlimited → 1."""
    if target_ms is None:
        return 1
    tolerance = frame_ms if frame_ms is not None else FALLBACK_FRAME_MS
    return int(abs(measured_ms - target_ms) <= tolerance + TIMING_SLACK_MS)


def trial_json(
    rt: StudyRuntime, tid, position, kind, task, image_id, left, right, exposure
) -> dict[str, Any]:
    """What the browser learns about a trial: never the methods, only opaque image URLs."""
    out = {"id": tid, "index": position, "practice": kind == "practice", "exposure_ms": exposure}
    if task == PAIRED:
        out["mode"] = "pair"
        out["left"] = rt.images.url(left, image_id)
        out["right"] = rt.images.url(right, image_id)
    else:
        out["mode"] = "single"
        out["image"] = rt.images.url(left, image_id)
    return out


def _serve(conn: Connection, rt: StudyRuntime, pid: int, position: int, now: str):
    """The trial at `position` as JSON, marked served; None past the last trial."""
    row = conn.execute(_TRIAL_AT, {"pid": pid, "position": position}).first()
    if row is None:
        return None
    exposure = row.exposure_ms_target
    if row.served_at is None:
        if row.task == STAIRCASE:
            # The staircase's exposure is fixed when the trial is first served, from the answers
            # so far; a reload or a retry serves the same exposure again.
            exposure = staircase_exposure(conn, rt.spec.staircase, pid, row)
            conn.execute(
                update(T)
                .where(T.c.id == row.id)
                .values(exposure=str(exposure), exposure_ms_target=exposure)
            )
        _MARK_SERVED(conn, {"tid": row.id, "now": now})
    return trial_json(
        rt, row.id, row.position, row.kind, row.task, row.image_id, row.left_method,
        row.right_method, exposure,
    )  # fmt: skip


def completion_json(conn: Connection, rt: StudyRuntime, pid: int) -> dict[str, Any]:
    """How the finished participant is sent back to its platform (code, redirect or form post)."""
    from study.platforms import PlatformEntry, completion_target

    row = conn.execute(_PARTICIPANT, {"pid": pid}).one()
    entry = PlatformEntry(
        row.platform,
        None,
        assignment_id=row.assignment_id or "",
        hit_id=row.hit_id or "",
        submit_to=row.submit_to or "",
        session_id=row.session_id or "",
        platform_study_id=row.platform_study_id or "",
    )
    target = completion_target(rt.spec.platform, entry)
    return {
        "kind": target.kind,
        "code": target.code or None,
        "url": target.url or None,
        "fields": dict(target.fields),
    }


def state_for(conn: Connection, rt: StudyRuntime, pid: int) -> dict[str, Any]:
    """Participant `pid`'s progress inside an open write transaction; serves its next trial."""
    row = conn.execute(select(P.c.public_id, P.c.trials_total).where(P.c.id == pid)).one()
    answered = conn.execute(_ANSWERED, {"pid": pid}).scalar_one()
    done = answered >= row.trials_total
    return {
        "participant_id": row.public_id,
        "total": row.trials_total,
        "answered": answered,
        "done": done,
        "next": None if done else _serve(conn, rt, pid, answered, iso(_now())),
        "completion": completion_json(conn, rt, pid) if done else None,
    }


def state(rt: StudyRuntime, token: str) -> dict[str, Any]:
    """The token's participant's progress, with its next trial served (a reload resumes there)."""
    with write_tx(rt.engine) as conn:
        owner = token_owner(conn, rt.study_id, hash_token(token))
        return state_for(conn, rt, owner.id)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_access(conn: Connection, rt: StudyRuntime, token_hash: str, row) -> None:
    if row is not None and row.token_hash == token_hash and row.study_id == rt.study_id:
        return
    token_owner(conn, rt.study_id, token_hash)  # 401 unless the token is valid
    if row is None:
        raise NotFoundError("no such trial")
    raise ForbiddenError("this trial belongs to another participant")


def _check_fits(rt: StudyRuntime, row, payload: AnswerPayload) -> None:
    if payload.choice == "none":
        if not rt.spec.timing.response_deadline_ms:
            raise InvalidError(
                "'choice' \"none\" needs a response deadline, and this study has none"
            )
    elif (payload.choice in ("left", "right")) != (row.task == PAIRED):
        expected = '"left" or "right"' if row.task == PAIRED else '"real" or "fake"'
        raise InvalidError(f"'choice' must be {expected} for this trial, got \"{payload.choice}\"")
    if row.exposure_ms_target is None and payload.exposure_ms_measured is not None:
        raise InvalidError("'exposure_ms_measured' must be null for an unlimited trial")
    if row.exposure_ms_target is not None and payload.exposure_ms_measured is None:
        raise InvalidError("'exposure_ms_measured' is required for a timed trial (a number of ms)")


def _serve_next(conn: Connection, rt: StudyRuntime, row, now: str) -> dict[str, Any] | None:
    """The trial after `row` (from the lookup's join) as JSON, marked served."""
    if row.next_id is None:
        return None
    if row.next_task != PAIRED:
        # Single images need their own JSON, and a staircase its exposure fixed when served.
        return _serve(conn, rt, row.participant_id, row.position + 1, now)
    if row.next_served_at is None:
        _MARK_SERVED(conn, {"tid": row.next_id, "now": now})
    return trial_json(
        rt, row.next_id, row.position + 1, row.next_kind, PAIRED, row.next_image_id,
        row.next_left_method, row.next_right_method, row.next_exposure_ms_target,
    )  # fmt: skip


def _ack(conn, rt: StudyRuntime, row, chosen: str, ok: int, now: str) -> dict[str, Any]:
    answered = row.position + 1
    done = answered >= row.trials_total
    feedback = None
    if row.kind == "practice" and rt.spec.practice is not None and rt.spec.practice.feedback:
        if row.task != PAIRED:
            feedback = single_feedback(row, chosen)
        else:
            correct_side = "left" if row.left_method == row.method_a else "right"
            feedback = {"correct": chosen == row.method_a, "correct_side": correct_side}
    return {
        "trial_id": row.id,
        "timing_ok": ok,
        "feedback": feedback,
        "answered": answered,
        "total": row.trials_total,
        "done": done,
        "next": None if done else _serve_next(conn, rt, row, now),
        "completion": completion_json(conn, rt, row.participant_id) if done else None,
    }


def record_answer(
    rt: StudyRuntime, token: str, trial_id: int, payload: AnswerPayload, user_agent: str | None
) -> dict[str, Any]:
    """Store one answer and serve the next trial; a retry of the same answer gets the same ack."""
    token_hash = hash_token(token)
    digest = payload.sha256()
    moment = _now()
    now = iso(moment)
    with write_tx(rt.engine) as conn:
        if conn.dialect.name != "sqlite":
            _LOCK_TRIAL(conn, {"trial_id": trial_id})
        row = _LOOKUP(conn, {"trial_id": trial_id}).first()
        _check_access(conn, rt, token_hash, row)
        if row.payload_sha256 is not None:
            if row.payload_sha256 != digest:
                raise ConflictError("this trial was already answered differently")
            return _ack(conn, rt, row, row.chosen_method, row.timing_ok, now)
        if row.served_at is None:
            raise ConflictError(
                "this trial has not been shown yet (answer the current trial first)"
            )
        _check_fits(rt, row, payload)
        chosen = chosen_for(row, payload.choice)
        ok = timing_ok(row.exposure_ms_target, payload.exposure_ms_measured, payload.frame_ms)
        onset = max(moment - timedelta(milliseconds=payload.response_ms), _parse(row.served_at))
        values = _response_values(payload, chosen, ok, iso(onset), now, user_agent)
        _INSERT_RESPONSE(conn, {"trial_id": row.id, "payload_sha256": digest, **values})
        ack = _ack(conn, rt, row, chosen, ok, now)
        if ack["done"]:
            conn.execute(
                update(P)
                .where(P.c.id == row.participant_id)
                .values(
                    status="finished", finished_at=now, completion_code=ack["completion"]["code"]
                )
            )
        return ack


def _response_values(payload, chosen, ok, shown_at, answered_at, user_agent) -> dict[str, Any]:
    return {
        "chosen_method": chosen,
        "exposure_ms_measured": payload.exposure_ms_measured,
        "timing_ok": ok,
        "frame_ms": payload.frame_ms,
        "dpr": payload.dpr,
        "response_ms": payload.response_ms,
        "shown_at": shown_at,
        "answered_at": answered_at,
        "window_w": payload.window_w,
        "window_h": payload.window_h,
        "focus_lost": payload.focus_lost,
        "user_agent": clean_user_agent(user_agent),
    }


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def record_events(rt: StudyRuntime, token: str, events: list[EventIn]) -> int:
    """Store browser events of the token's participant; trial ids must be its own."""
    with write_tx(rt.engine) as conn:
        owner = token_owner(conn, rt.study_id, hash_token(token))
        trial_ids = {e.trial_id for e in events if e.trial_id is not None}
        if trial_ids:
            own = set(
                conn.execute(
                    select(T.c.id).where(T.c.participant_id == owner.id, T.c.id.in_(trial_ids))
                ).scalars()
            )
            if own != trial_ids:
                raise ForbiddenError("events may only name the participant's own trials")
        now = iso(_now())
        conn.execute(
            insert(E),
            [
                {
                    "participant_id": owner.id,
                    "trial_id": e.trial_id,
                    "type": e.type,
                    "detail": e.detail,
                    "at": now,
                }
                for e in events
            ],
        )
        return len(events)
