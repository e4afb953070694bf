"""Participants planned ahead, so that a burst of arrivals does not queue behind the scheduler.

Planning a participant (scheduling every trial against the coverage so far and inserting them)
is the costly part of enrolment, and it must run under the write lock to keep coverage exact;
200 people arriving in the same second then wait for 200 plans in a row. With an enrolment pool
of N, the server keeps N participants planned but unclaimed (status "vacant"): enrolment hands
out the oldest one (a single update) and a background thread plans the next. They are claimed
in the order they were planned, so the trials and their balance are exactly what sequential
enrolment would have produced. Vacant participants have no token anyone holds; exports, the
admin counts and payments leave them out.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from study.db import Participant, Study, write_tx
from study.participants import VACANT, add_vacancy
from study.runtime import StudyRuntime

log = logging.getLogger(__name__)
P = Participant.__table__
S = Study.__table__
IDLE_S = 0.2
# After a claim, planning waits this long for quiet: during a burst of arrivals, planning the
# next vacancies would take the write lock from the people arriving now.
QUIET_S = 1.0
# Between two planned vacancies the filler lets go of the write lock and of its process's GIL
# for this long, so that answers are never queued behind a run of plans (measured: without it,
# refilling 200 vacancies while 200 people answered once a second gave answer p99 210 ms).
PACE_S = 0.05


def _vacancies(conn, rt: StudyRuntime) -> int:
    return conn.execute(
        select(func.count(P.c.id)).where(P.c.study_id == rt.study_id, P.c.status == VACANT)
    ).scalar_one()


def _count(rt: StudyRuntime) -> int:
    with rt.engine.connect() as conn:
        return _vacancies(conn, rt)


def _top_up_one(rt: StudyRuntime, target: int) -> bool:
    """Plan one more vacancy if the study is open and below `target`; True if one was added."""
    if _count(rt) >= target:  # a read first: a full pool costs no write lock
        return False
    with write_tx(rt.engine) as conn:
        status = conn.execute(
            select(S.c.status).where(S.c.id == rt.study_id).with_for_update()
        ).scalar_one()
        if status != "open" or _vacancies(conn, rt) >= target:
            return False
        add_vacancy(conn, rt)
        return True


def fill_vacancies(rt: StudyRuntime, target: int, pause: threading.Event | None = None) -> int:
    """Plan vacancies until `target` wait unclaimed (one short transaction each); how many.

    With `pause`, wait PACE_S on it between two plans (and stop early once it is set).
    """
    added = 0
    while target > 0 and _top_up_one(rt, target):
        added += 1
        if pause is not None and pause.wait(PACE_S):
            break
    return added


def start_filler(rt: StudyRuntime, target: int) -> threading.Thread:
    """A daemon thread that keeps `target` vacancies planned while the process lives."""
    stop = threading.Event()

    def loop() -> None:
        seen = None
        while not stop.is_set():
            try:
                count = _count(rt)
                if seen is not None and count < seen:
                    seen = count
                    stop.wait(QUIET_S)  # people are arriving: let them have the lock first
                    continue
                added = fill_vacancies(rt, target, stop)
                seen = _count(rt)
            except OperationalError as err:  # locked or full: try again later, never crash
                log.warning("could not plan ahead: %s", err.orig)
                added = 0
            if not added:
                stop.wait(IDLE_S)

    thread = threading.Thread(target=loop, name="crnkit-vacancies", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
