"""Optional post-task questions ([questions]): validation, storage and the questions.csv export.

Answers go to their own table (`questionnaire`, one row per participant, written once after the
participant's last trial) and are exported separately from the judgments.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, insert, select

from study.db import Participant, Questionnaire, utc_now, write_tx
from study.httperrors import ConflictError, InvalidError
from study.participants import hash_token, token_owner
from study.runtime import StudyRuntime

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65 or older", "prefer not to say")
VISION_ANSWERS = (
    "normal",
    "corrected to normal (glasses, lenses)",
    "not normal",
    "prefer not to say",
)
MAX_COMMENT = 2000
QUESTION_COLUMNS = ("participant_id", "condition", "age_band", "vision", "comment", "submitted_at")
# Cells a spreadsheet would read as a formula (OWASP CSV injection): shown with a leading quote.
P = Participant.__table__
Q = Questionnaire.__table__


def parse_questions(body: dict[str, Any], asked) -> dict[str, str | None]:
    """Validate a questions body against the spec's [questions]; InvalidError names the field."""
    allowed = [name for name in ("age_band", "vision", "comment") if getattr(asked, name)]
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidError(
            f"unexpected field(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})"
        )
    out: dict[str, str | None] = {}
    for name, choices in (("age_band", AGE_BANDS), ("vision", VISION_ANSWERS)):
        value = body.get(name)
        if value is not None and value not in choices:
            raise InvalidError(f"'{name}' must be one of: {'; '.join(choices)}")
        out[name] = value
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise InvalidError(f"'comment' must be a string of at most {MAX_COMMENT} characters")
    # Lone surrogates cannot be stored as UTF-8 text; they are replaced, the rest kept.
    out["comment"] = comment.encode("utf-8", "replace").decode("utf-8") if comment else None
    return out


def record_questions(rt: StudyRuntime, token: str, answers: dict[str, str | None]) -> None:
    """Store the token's participant's answers once, after its last trial."""
    with write_tx(rt.engine) as conn:
        owner = token_owner(conn, rt.study_id, hash_token(token))
        if owner.status != "finished":
            raise ConflictError("the questions come after the last trial")
        if conn.execute(select(Q.c.id).where(Q.c.participant_id == owner.id)).first():
            raise ConflictError("the questions were already answered")
        conn.execute(insert(Q).values(participant_id=owner.id, submitted_at=utc_now(), **answers))


def iter_question_rows(engine: Engine, study_id: str) -> Iterator[tuple]:
    """One row per participant who answered, in QUESTION_COLUMNS order (raw text: the CSV
    writer makes formula-like cells spreadsheet-safe, as for every export)."""
    sql = (
        select(
            P.c.public_id, P.c.condition, Q.c.age_band, Q.c.vision, Q.c.comment, Q.c.submitted_at
        )
        .select_from(Q.join(P, P.c.id == Q.c.participant_id))
        .where(P.c.study_id == study_id)
        .order_by(Q.c.submitted_at, P.c.public_id)
    )
    with engine.connect() as conn:
        for row in conn.execute(sql):
            yield (
                row.public_id,
                row.condition,
                row.age_band,
                row.vision,
                row.comment,
                row.submitted_at,
            )
