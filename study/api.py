"""The participant JSON API: enrol, state, answer (carrying the next trial), events, health."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from study import answers, participants
from study.db import Study
from study.payloads import parse_answer, parse_enrol, parse_events, parse_json_object
from study.runtime import runtime

bp = Blueprint("api", __name__, url_prefix="/api")


def _body() -> dict:
    return parse_json_object(request.get_data(cache=False))


def _token() -> str:
    return participants.bearer_token(request.headers.get("Authorization"))


@bp.get("/health")
def health():
    """Liveness and the study's status (open, paused, closed)."""
    rt = runtime()
    table = Study.__table__
    with rt.engine.connect() as conn:
        status = conn.execute(select(table.c.status).where(table.c.id == rt.study_id)).scalar_one()
    return jsonify(ok=True, study_id=rt.study_id, status=status)


@bp.post("/enrol")
def enrol():
    """Enrol the person behind the page's platform parameters (or resume them)."""
    rt = runtime()
    payload = parse_enrol(_body())
    result = participants.enrol(
        rt,
        payload.params,
        request.headers.get("User-Agent"),
        describe=lambda conn, pk: answers.state_for(conn, rt, pk),
    )
    if result.preview:
        return jsonify(preview=True)
    body = {
        "token": result.token,
        "participant_id": result.participant_id,
        "resumed": result.resumed,
        "state": result.state,
    }
    return jsonify(body), (200 if result.resumed else 201)


@bp.get("/state")
def state():
    """Progress of the token's participant, with its next trial served."""
    return jsonify(answers.state(runtime(), _token()))


@bp.post("/trials/<int(max=4611686018427387904):trial_id>/answer")
def answer(trial_id: int):
    """Store one answer; the acknowledgement carries the next trial."""
    token = _token()
    payload = parse_answer(_body())
    ack = answers.record_answer(
        runtime(), token, trial_id, payload, request.headers.get("User-Agent")
    )
    return jsonify(ack)


@bp.post("/questions")
def questions():
    """Store the optional post-task answers of the token's participant (once, when finished)."""
    from study.questions import parse_questions, record_questions

    token = _token()
    rt = runtime()
    record_questions(rt, token, parse_questions(_body(), rt.spec.questions))
    return jsonify(stored=True), 201


@bp.post("/events")
def events():
    """Store browser events (focus lost, resize, fullscreen exit…)."""
    token = _token()
    stored = answers.record_events(runtime(), token, parse_events(_body()))
    return jsonify(stored=stored)
