"""SQLAlchemy schema of a study database and its `responses_export` view (contract 5).

Both are described in docs/contracts.md.

One row per judgment (`response`), attached to the `trial` it answers; timestamps are stored as
ISO-8601 UTC text so that SQLite and PostgreSQL export them identically.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crnkit_common.responses import COLUMNS

EXPORT_COLUMNS = COLUMNS
EXPORT_VIEW = "responses_export"


def utc_now() -> str:
    """The server's current time as ISO-8601 UTC text with milliseconds (…Z)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Base(DeclarativeBase):
    """Declarative base of the study schema."""


class Study(Base):
    """A study as started from one spec; an edited spec must get a new id."""

    __tablename__ = "study"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(String(128))
    spec_sha256: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    imagesets_json: Mapped[str] = mapped_column(Text, default="{}")  # {set name: digest}
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | paused | closed
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)


class Participant(Base):
    """One person taking one study; `public_id` is the pseudonym used in exports."""

    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint("study_id", "worker_hash", name="uq_participant_worker"),
        Index("ix_participant_worker", "worker_hash"),
        Index("ix_participant_token", "token_hash", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("study.id"))
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    worker_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignment_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hit_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    submit_to: Mapped[str | None] = mapped_column(String(256), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    platform_study_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="started")  # started|finished|refused
    seed: Mapped[int] = mapped_column(Integer)
    trials_total: Mapped[int] = mapped_column(Integer, default=0)  # practice + test + catch
    user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)
    completion_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)
    finished_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    trials: Mapped[list[Trial]] = relationship(
        back_populates="participant", order_by="Trial.position"
    )


class Trial(Base):
    """A trial assigned to one participant at one position of its list."""

    __tablename__ = "trial"
    __table_args__ = (
        UniqueConstraint("participant_id", "position", name="uq_trial_position"),
        Index("ix_trial_cell", "comparison", "exposure", "image_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # test | practice | catch
    comparison: Mapped[str] = mapped_column(String(128))
    image_id: Mapped[str] = mapped_column(String(256))
    method_a: Mapped[str] = mapped_column(String(128))
    method_b: Mapped[str] = mapped_column(String(128))
    left_method: Mapped[str] = mapped_column(String(128))
    right_method: Mapped[str] = mapped_column(String(128))
    exposure: Mapped[str] = mapped_column(String(16))  # "125" … "8000" | "unlimited"
    exposure_ms_target: Mapped[int | None] = mapped_column(Integer, nullable=True)
    served_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    participant: Mapped[Participant] = relationship(back_populates="trials")
    response: Mapped[Response | None] = relationship(back_populates="trial", uselist=False)


class Response(Base):
    """The one judgment a trial gets, with the browser's timing measurements."""

    __tablename__ = "response"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), unique=True)
    chosen_method: Mapped[str] = mapped_column(String(128))
    exposure_ms_measured: Mapped[float | None] = mapped_column(Float, nullable=True)
    timing_ok: Mapped[int] = mapped_column(Integer)
    frame_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    dpr: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_ms: Mapped[float] = mapped_column(Float)
    shown_at: Mapped[str] = mapped_column(String(32))
    answered_at: Mapped[str] = mapped_column(String(32))
    window_w: Mapped[int | None] = mapped_column(Integer, nullable=True)
    window_h: Mapped[int | None] = mapped_column(Integer, nullable=True)
    focus_lost: Mapped[int] = mapped_column(Integer, default=0)
    user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))  # to tell a retry from a change
    trial: Mapped[Trial] = relationship(back_populates="response")


class Coverage(Base):
    """Test trials assigned so far per (comparison, exposure, image) of a study.

    Kept in step with `trial` by enrolment (same transaction) so that scheduling reads a few
    hundred counters instead of grouping every trial of the study while holding the write lock.
    """

    __tablename__ = "coverage"
    study_id: Mapped[str] = mapped_column(ForeignKey("study.id"), primary_key=True)
    comparison: Mapped[str] = mapped_column(String(128), primary_key=True)
    exposure: Mapped[str] = mapped_column(String(16), primary_key=True)
    image_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """Something that happened in the participant's browser: focus lost, resize, fullscreen exit."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    trial_id: Mapped[int | None] = mapped_column(ForeignKey("trial.id"), nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[str] = mapped_column(String(32), default=utc_now)


EXPORT_VIEW_SQL = f"""
CREATE VIEW {EXPORT_VIEW} AS
SELECT s.id AS study_id, s.dataset AS dataset, p.public_id AS participant_id,
       p.platform AS platform, t.position AS trial_index, t.kind AS kind,
       t.comparison AS comparison, t.image_id AS image_id, t.method_a AS method_a,
       t.method_b AS method_b, t.left_method AS left_method, t.right_method AS right_method,
       r.chosen_method AS chosen_method, t.exposure AS exposure,
       t.exposure_ms_target AS exposure_ms_target, r.exposure_ms_measured AS exposure_ms_measured,
       r.timing_ok AS timing_ok, r.frame_ms AS frame_ms, r.dpr AS dpr,
       r.response_ms AS response_ms, r.shown_at AS shown_at, r.answered_at AS answered_at,
       r.window_w AS window_w, r.window_h AS window_h, r.focus_lost AS focus_lost,
       r.user_agent AS user_agent
FROM response r
JOIN trial t ON t.id = r.trial_id
JOIN participant p ON p.id = t.participant_id
JOIN study s ON s.id = p.study_id
"""


COVERAGE_BACKFILL_SQL = """
INSERT INTO coverage (study_id, comparison, exposure, image_id, n)
SELECT p.study_id, t.comparison, t.exposure, t.image_id, count(*)
FROM trial t JOIN participant p ON p.id = t.participant_id
WHERE t.kind = 'test'
GROUP BY p.study_id, t.comparison, t.exposure, t.image_id
"""


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers (admin, export) run beside the writer; busy_timeout turns short lock
    # waits into waiting instead of errors; NORMAL sync is durable across app crashes in WAL.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # The driver's own implicit BEGIN is switched off so that SQLAlchemy's "begin" event decides
    # between BEGIN (reads) and BEGIN IMMEDIATE (writes, see `write_tx`).
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY when
    # another process wrote in between; taking the write lock up front makes it wait instead.
    immediate = conn.get_execution_options().get(IMMEDIATE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


IMMEDIATE_OPTION = "crnkit_immediate"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(engine: Engine) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(engine)
        if lock is None:
            lock = _WRITE_LOCKS[engine] = threading.Lock()
        return lock


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A connection inside one write transaction (BEGIN IMMEDIATE on SQLite), committed on exit."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    # SQLite allows one writer at a time anyway. Queueing this process's writers on a Python
    # lock wakes the next one the moment the previous commits, instead of leaving many threads
    # in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and ruins tail latency.
    with _write_lock(engine), engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE_OPTION: True})
        with conn.begin():
            yield conn


def init_db(engine: Engine) -> None:
    """Create missing tables and the export view; existing data is left untouched."""
    # One write transaction, so that several server processes starting at once do not race.
    with write_tx(engine) as conn:
        had_coverage = "coverage" in inspect(conn).get_table_names()
        Base.metadata.create_all(conn)
        if not had_coverage:
            conn.execute(text(COVERAGE_BACKFILL_SQL))
        if EXPORT_VIEW not in inspect(conn).get_view_names():
            conn.execute(text(EXPORT_VIEW_SQL))
