"""Enrolment and authentication of participants (transactional core, SQLAlchemy Core)."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, insert, select, update

from crn.errors import UserError
from crnkit_common.responses import STAIRCASE
from study.db import Coverage, Participant, Study, Trial, utc_now, write_tx
from study.httperrors import (
    ApiError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    UnauthorizedError,
)
from study.platforms import PlatformEntry, hash_worker_id, parse_entry
from study.runtime import StudyRuntime
from study.scheduler import plan_participant
from study.spec import exposure_ms

P = Participant.__table__
T = Trial.__table__
S = Study.__table__
C = Coverage.__table__
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_USER_AGENT = 512
ALREADY_MESSAGE = "you have already taken part in this study"
REFUSED_MESSAGE = "you cannot take part: you took part in a related study before"

_BUMP_COVERAGE = (
    update(C)
    .where(
        C.c.study_id == bindparam("s"),
        C.c.comparison == bindparam("c"),
        C.c.exposure == bindparam("e"),
        C.c.image_id == bindparam("i"),
    )
    .values(n=C.c.n + bindparam("n"))
)
_NEW_COVERAGE = insert(C).values(
    study_id=bindparam("s"),
    comparison=bindparam("c"),
    exposure=bindparam("e"),
    image_id=bindparam("i"),
    n=bindparam("n"),
)
_TOKEN_OWNER = select(P.c.id, P.c.study_id, P.c.status).where(
    P.c.token_hash == bindparam("token_hash")
)


def clean_user_agent(user_agent: str | None) -> str | None:
    """The User-Agent as stored: at most MAX_USER_AGENT characters, no NUL, None if empty."""
    return (user_agent or "").replace("\x00", "")[:MAX_USER_AGENT] or None


def hash_token(token: str) -> str:
    """The stored form of a participant token (sha256 hex)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or UnauthorizedError."""
    if not header or not header.startswith("Bearer "):
        raise UnauthorizedError("missing participant token (send 'Authorization: Bearer <token>')")
    token = header[len("Bearer ") :].strip()
    if not 20 <= len(token) <= 128 or not set(token) <= TOKEN_CHARS:
        raise UnauthorizedError("invalid participant token")
    return token


def token_owner(conn: Connection, study_id: str, token_hash: str):
    """(id, study_id, status) of the token's participant in this study, or UnauthorizedError."""
    row = conn.execute(_TOKEN_OWNER, {"token_hash": token_hash}).first()
    if row is None or row.study_id != study_id or row.status == "refused":
        raise UnauthorizedError(
            "invalid participant token (it may have been replaced by a newer one)"
        )
    return row


@dataclass(frozen=True)
class Enrolment:
    """The outcome of an enrolment: a token for a new or resumed participant, or a preview."""

    preview: bool
    token: str | None = None
    participant_pk: int | None = None
    participant_id: str | None = None
    resumed: bool = False
    state: dict | None = None


def participant_seed(study_seed: int, public_id: str) -> int:
    """A participant's scheduling seed, derived from the study seed and its public id."""
    digest = hashlib.sha256(f"{study_seed}:{public_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def read_coverage(conn: Connection, study_id: str) -> dict[tuple[str, str, str], int]:
    """Test trials already assigned per (comparison, exposure, image_id) in this study."""
    rows = conn.execute(
        select(C.c.comparison, C.c.exposure, C.c.image_id, C.c.n).where(C.c.study_id == study_id)
    )
    return {(c, e, i): n for c, e, i, n in rows}


def _add_coverage(conn: Connection, study_id: str, known: dict, plan: list) -> None:
    added = Counter(t.coverage_key for t in plan if t.kind == "test")
    rows = [
        {"s": study_id, "c": c, "e": e, "i": i, "n": n} for (c, e, i), n in sorted(added.items())
    ]
    old = [r for r in rows if (r["c"], r["e"], r["i"]) in known]
    new = [r for r in rows if (r["c"], r["e"], r["i"]) not in known]
    if old:
        conn.execute(_BUMP_COVERAGE, old)
    if new:
        conn.execute(_NEW_COVERAGE, new)


def enrol(
    rt: StudyRuntime,
    params: Mapping[str, str],
    user_agent: str | None,
    describe: Callable[[Connection, int], dict] | None = None,
) -> Enrolment:
    """Enrol (or resume) the person behind the platform parameters; refusals raise ApiErrors.

    `describe(conn, participant_pk)`, when given, runs in the same transaction and its result
    becomes `Enrolment.state` (the API serves the first trial without a second transaction).
    """
    try:
        sandbox = rt.spec.platform.mturk_sandbox if rt.spec.platform.kind == "mturk" else None
        entry = parse_entry(rt.spec.platform.kind, params, sandbox=sandbox)
    except UserError as err:
        # The message may quote URL parameters: control characters must not split the line.
        raise InvalidError(" ".join(str(err).split())[:300]) from None
    if entry.preview:
        return Enrolment(preview=True)
    worker_hash = None
    if entry.worker_id is not None:
        worker_hash = hash_worker_id(rt.secret, entry.platform, entry.worker_id)
    token = secrets.token_urlsafe(32)
    refused = False
    with write_tx(rt.engine) as conn:
        # Locks the study row on databases that support it; SQLite's BEGIN IMMEDIATE already
        # serialises enrolments, which keeps the coverage counts exact under concurrency.
        status = conn.execute(
            select(S.c.status).where(S.c.id == rt.study_id).with_for_update()
        ).scalar_one()
        if worker_hash is not None:
            resumed = _resume(conn, rt.study_id, entry, worker_hash, token)
            if resumed is not None:
                return _described(conn, resumed, describe)
        if status != "open":
            raise ForbiddenError(closed_message(status))
        if worker_hash is not None and _took_excluded(conn, rt.spec, worker_hash):
            _refuse(conn, rt, entry, worker_hash, token, user_agent)
            refused = True
        else:
            created = _claim_vacancy(conn, rt, entry, worker_hash, token, user_agent)
            if created is None:
                created = _create(conn, rt, entry, worker_hash, token, user_agent)
            return _described(conn, created, describe)
    if refused:
        raise ForbiddenError(REFUSED_MESSAGE)
    raise AssertionError("unreachable")


def _described(conn: Connection, enrolment: Enrolment, describe) -> Enrolment:
    if describe is None:
        return enrolment
    return dataclasses.replace(enrolment, state=describe(conn, enrolment.participant_pk))


def _worker_row(conn: Connection, study_id: str, worker_hash: str):
    return conn.execute(
        select(P.c.id, P.c.public_id, P.c.status, P.c.hit_id).where(
            P.c.study_id == study_id, P.c.worker_hash == worker_hash
        )
    ).first()


def _repeat_refusal(row, entry: PlatformEntry) -> ApiError | None:
    """Why a known worker may not go on (None: they may resume)."""
    if row.status == "refused":
        return ForbiddenError(REFUSED_MESSAGE)
    # MTurk: a worker who finished may come back through the same HIT (say the submit form
    # failed, or they returned the assignment and took it again) to submit the one they hold.
    same_hit = entry.platform == "mturk" and bool(entry.hit_id) and row.hit_id == entry.hit_id
    if row.status == "finished" and not same_hit:
        return ConflictError(ALREADY_MESSAGE)
    return None


def _resume(
    conn: Connection, study_id: str, entry: PlatformEntry, worker_hash: str, token: str
) -> Enrolment | None:
    row = _worker_row(conn, study_id, worker_hash)
    if row is None:
        return None
    refusal = _repeat_refusal(row, entry)
    if refusal is not None:
        raise refusal
    # The platform's worker id is the only credential a returning person has; a new token is
    # issued and the old one revoked, so at most one browser tab drives the participant.
    values: dict[str, object] = {"token_hash": hash_token(token)}
    if entry.platform == "mturk":
        # A worker who returns a HIT and accepts it again gets a new assignmentId, and MTurk
        # accepts a submission only for the assignment the worker holds now.
        values.update(
            assignment_id=entry.assignment_id or None,
            hit_id=entry.hit_id or None,
            submit_to=entry.submit_to or None,
        )
    conn.execute(update(P).where(P.c.id == row.id).values(**values))
    return Enrolment(
        preview=False,
        token=token,
        participant_pk=row.id,
        participant_id=row.public_id,
        resumed=True,
    )


def entry_refusal(rt: StudyRuntime, entry: PlatformEntry) -> ApiError | None:
    """Why this entry cannot start or resume the study (read-only; None if it can).

    The participant page asks this before showing consent, so that a paused study or a repeat
    worker is told on the first page rather than after pressing Start.
    """
    if entry.preview:
        return None
    worker_hash = None
    if entry.worker_id is not None:
        worker_hash = hash_worker_id(rt.secret, entry.platform, entry.worker_id)
    with rt.engine.connect() as conn:
        status = conn.execute(select(S.c.status).where(S.c.id == rt.study_id)).scalar_one()
        if worker_hash is not None:
            row = _worker_row(conn, rt.study_id, worker_hash)
            if row is not None:
                return _repeat_refusal(row, entry)
        if status != "open":
            return ForbiddenError(closed_message(status))
        if worker_hash is not None and _took_excluded(conn, rt.spec, worker_hash):
            return ForbiddenError(REFUSED_MESSAGE)
    return None


def closed_message(status: str) -> str:
    """What a newcomer to a study that is not open is told."""
    return f"this study is {status} and does not accept new participants"


def _took_excluded(conn: Connection, spec, worker_hash: str) -> bool:
    studies = tuple(spec.platform.exclude_studies)
    if not studies:
        return False
    found = conn.execute(
        select(P.c.id)
        .where(
            P.c.worker_hash == worker_hash,
            P.c.study_id.in_(studies),
            P.c.status != "refused",
        )
        .limit(1)
    ).first()
    return found is not None


def _holder_values(entry, worker_hash, token, user_agent) -> dict:
    """The columns that say who holds a participant row: token, platform ids, browser, time."""
    return {
        "token_hash": hash_token(token),
        "platform": entry.platform,
        "worker_hash": worker_hash,
        "assignment_id": entry.assignment_id or None,
        "hit_id": entry.hit_id or None,
        "submit_to": entry.submit_to or None,
        "session_id": entry.session_id or None,
        "platform_study_id": entry.platform_study_id or None,
        "user_agent": clean_user_agent(user_agent),
        "created_at": utc_now(),
    }


def _insert_participant(
    conn, rt, entry, worker_hash, token, user_agent, *, status, public_id, seed, total, condition
) -> int:
    return conn.execute(
        insert(P).values(
            study_id=rt.study_id,
            public_id=public_id,
            status=status,
            condition=condition,
            seed=seed,
            trials_total=total,
            **_holder_values(entry, worker_hash, token, user_agent),
        )
    ).inserted_primary_key[0]


def _new_public_id() -> str:
    return "p_" + secrets.token_hex(8)


def _refuse(conn, rt, entry, worker_hash, token, user_agent) -> None:
    public_id = _new_public_id()
    seed = participant_seed(rt.spec.seed, public_id)
    _insert_participant(
        conn,
        rt,
        entry,
        worker_hash,
        token,
        user_agent,
        status="refused",
        public_id=public_id,
        seed=seed,
        total=0,
        condition=None,
    )


def assign_condition(conn: Connection, spec, study_id: str, seed: int) -> str | None:
    """The condition with the fewest participants so far (refused ones not counted), ties at
    random: counterbalanced assignment as psiTurk's num_conds does it; None without conditions.
    """
    if not spec.conditions:
        return None
    rows = conn.execute(
        select(P.c.condition, func.count())
        .where(P.c.study_id == study_id, P.c.status != "refused")
        .group_by(P.c.condition)
    )
    counts = dict(rows.all())
    ids = [c.id for c in spec.conditions]
    fewest = min(counts.get(c, 0) for c in ids)
    tied = [c for c in ids if counts.get(c, 0) == fewest]
    return tied[seed % len(tied)]


def _create(conn, rt, entry, worker_hash, token, user_agent, status="started") -> Enrolment:
    public_id = _new_public_id()
    seed = participant_seed(rt.spec.seed, public_id)
    condition = assign_condition(conn, rt.spec, rt.study_id, seed)
    coverage = read_coverage(conn, rt.study_id)
    plan = plan_participant(rt.spec, rt.sets, coverage, seed, condition)
    pk = _insert_participant(
        conn,
        rt,
        entry,
        worker_hash,
        token,
        user_agent,
        status=status,
        public_id=public_id,
        seed=seed,
        total=len(plan),
        condition=condition,
    )
    conn.execute(
        insert(T),
        [
            {
                "participant_id": pk,
                "position": t.position,
                "kind": t.kind,
                "comparison": t.comparison,
                "image_id": t.image_id,
                "method_a": t.method_a,
                "method_b": t.method_b,
                "left_method": t.left_method,
                "right_method": t.right_method,
                "exposure": t.exposure,
                "exposure_ms_target": None if t.task == STAIRCASE else exposure_ms(t.exposure),
                "served_at": None,
                "task": t.task,
            }
            for t in plan
        ],
    )
    _add_coverage(conn, rt.study_id, coverage, plan)
    return Enrolment(
        preview=False, token=token, participant_pk=pk, participant_id=public_id, resumed=False
    )


# A participant planned ahead (see study.vacancies): trials and coverage exist, nobody holds it.
VACANT = "vacant"


def _claim_vacancy(conn, rt, entry, worker_hash, token, user_agent) -> Enrolment | None:
    """Hand the oldest pre-planned participant to this person; None if there is none.

    Claimed in the order they were planned, so coverage evolves as if each had enrolled then.
    """
    row = conn.execute(
        select(P.c.id, P.c.public_id)
        .where(P.c.study_id == rt.study_id, P.c.status == VACANT)
        .order_by(P.c.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    conn.execute(
        update(P)
        .where(P.c.id == row.id)
        .values(status="started", **_holder_values(entry, worker_hash, token, user_agent))
    )
    return Enrolment(
        preview=False, token=token, participant_pk=row.id, participant_id=row.public_id
    )


def add_vacancy(conn: Connection, rt: StudyRuntime) -> None:
    """Plan one participant ahead, inside the caller's write transaction."""
    entry = PlatformEntry(rt.spec.platform.kind, None)
    _create(conn, rt, entry, None, secrets.token_urlsafe(32), None, status=VACANT)
