"""Admin pages behind a token: progress, live preference rates, pause/close/reopen, exports.

The token comes either as `Authorization: Bearer <token>` (scripts) or through the login form,
which sets a signed, HttpOnly, SameSite=Strict cookie. Without credentials every admin URL answers
401; with wrong ones 403. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, text

from crn.errors import UserError
from study.export import iter_participants_csv, iter_responses_csv, study_document

bp = Blueprint("admin", __name__, url_prefix="/admin")

COOKIE = "crnkit_admin"
COOKIE_MAX_AGE = 12 * 3600
ACTIONS = {"pause": "paused", "close": "closed", "reopen": "open"}
_PUBLIC_ENDPOINTS = {"admin.login", "admin.login_submit"}


@dataclass(frozen=True)
class Cell:
    """Judgments of one comparison × exposure cell and the rate at which method_a was chosen."""

    kind: str
    comparison: str
    exposure: str
    assigned: int
    answered: int
    chose_a: int
    timing_ok: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


# ---------------------------------------------------------------- access


def _runtime() -> Any:
    from study.app import runtime  # the app module registers this blueprint: import it late

    return runtime(current_app)


def _configured_token() -> str | None:
    token = _runtime().config.admin_token
    return str(token) if token else None


def _signing_key() -> bytes:
    # Derived from the study's key file, so every gunicorn worker signs and checks alike.
    return hmac.new(_runtime().secret, b"crnkit-admin-signing", hashlib.sha256).digest()


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of two tokens (hashed first so length leaks nothing)."""
    a = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_signing_key(), salt="crnkit-admin")


def _fingerprint(token: str) -> str:
    # The cookie carries a hash of the token, so changing the token logs every browser out.
    return hashlib.sha256(b"crnkit-admin-cookie:" + token.encode("utf-8")).hexdigest()


def _cookie_valid(cookie: str, token: str) -> bool:
    try:
        value = _serializer().loads(cookie, max_age=COOKIE_MAX_AGE)
    except BadSignature:
        return False
    return isinstance(value, str) and hmac.compare_digest(value, _fingerprint(token))


def _credentials_state(token: str) -> str:
    """'bearer' or 'cookie' when the request proves the token, 'missing' or 'wrong' otherwise."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        ok = scheme.lower() == "bearer" and token_matches(value.strip(), token)
        return "bearer" if ok else "wrong"
    cookie = request.cookies.get(COOKIE)
    if cookie is not None:
        return "cookie" if _cookie_valid(cookie, token) else "wrong"
    return "missing"


def csrf_token() -> str:
    """The form token binding a POST to this browser's admin cookie."""
    cookie = request.cookies.get(COOKIE, "")
    return hmac.new(_signing_key(), b"csrf:" + cookie.encode("utf-8"), hashlib.sha256).hexdigest()


def _wants_json() -> bool:
    if request.path.startswith(("/admin/api/", "/admin/export/")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best != "text/html"


def _deny(status: int, message: str) -> Response:
    if _wants_json():
        response = jsonify(error=message)
    else:
        html = render_template("admin_login.html", message=message, csrf=None)
        response = make_response(html)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="crnkit admin"'
    return response


@bp.before_request
def _require_token() -> Response | None:
    token = _configured_token()
    if token is None:
        return _deny(403, "The admin pages are disabled: the server was started without a token.")
    if request.endpoint in _PUBLIC_ENDPOINTS:
        return None
    state = _credentials_state(token)
    if state == "missing":
        return _deny(401, "Sign in with the admin token.")
    if state == "wrong":
        return _deny(403, "That admin token is not valid.")
    if state == "cookie" and request.method == "POST":
        given = request.form.get("csrf", "")
        if not hmac.compare_digest(given.encode(), csrf_token().encode()):
            return _deny(403, "The form expired; reload the page and try again.")
    return None


@bp.get("/login")
def login() -> Response:
    """The sign-in form."""
    return make_response(render_template("admin_login.html", message=None, csrf=None), 401)


@bp.post("/login")
def login_submit() -> Response:
    """Check the posted token; on success set the signed cookie and go to the progress page."""
    token = _configured_token() or ""
    given = request.form.get("token", "")
    if not token_matches(given, token):
        return _deny(403, "That admin token is not valid.")
    response = redirect(url_for("admin.progress"), code=303)
    response.set_cookie(
        COOKIE,
        _serializer().dumps(_fingerprint(token)),
        max_age=COOKIE_MAX_AGE,
        path="/admin",
        httponly=True,
        secure=request.is_secure,
        samesite="Strict",
    )
    return response


@bp.post("/logout")
def logout() -> Response:
    """Drop the admin cookie."""
    response = redirect(url_for("admin.login"), code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


# ---------------------------------------------------------------- data


def _engine() -> Engine:
    return _runtime().engine


def _study_id() -> str:
    return _runtime().study_id


def study_status(engine: Engine, study_id: str) -> str:
    """The study's status: open, paused or closed."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status FROM study WHERE id = :id"), {"id": study_id})
        status = row.scalar_one_or_none()
    if status is None:
        abort(404)
    return status


def participant_counts(engine: Engine, study_id: str) -> dict[str, int]:
    """Participants of the study by status (started, finished, refused…)."""
    sql = "SELECT status, COUNT(*) FROM participant WHERE study_id = :id GROUP BY status"
    with engine.connect() as conn:
        counts = {status: n for status, n in conn.execute(text(sql), {"id": study_id})}
    counts["total"] = sum(counts.values())
    return counts


_CELLS_SQL = """
SELECT t.kind, t.comparison, t.exposure, COUNT(t.id), COUNT(r.id),
       SUM(CASE WHEN r.chosen_method = t.method_a THEN 1 ELSE 0 END),
       SUM(CASE WHEN r.timing_ok = 1 THEN 1 ELSE 0 END)
FROM trial t
JOIN participant p ON p.id = t.participant_id
LEFT JOIN response r ON r.trial_id = t.id
WHERE p.study_id = :id
GROUP BY t.kind, t.comparison, t.exposure
"""


def _exposure_order(exposure: str) -> float:
    return float("inf") if exposure == "unlimited" else float(exposure)


_JUDGMENTS_SQL = """
SELECT t.kind, t.comparison, t.exposure, t.participant_id, t.image_id,
       CASE WHEN r.chosen_method = t.method_a THEN 1 ELSE 0 END
FROM trial t
JOIN participant p ON p.id = t.participant_id
JOIN response r ON r.trial_id = t.id
WHERE p.study_id = :id
"""


def _live_intervals(engine: Engine, study_id: str) -> dict[tuple, tuple[float, float]]:
    """The report's crossed participant x image 95 % interval of every answered cell."""
    # Only the admin page needs pandas and scipy; keep them off the participants' hot path.
    import pandas as pd

    from crnkit_common.proportions import crossed_rates

    with engine.connect() as conn:
        rows = conn.execute(text(_JUDGMENTS_SQL), {"id": study_id}).all()
    columns = ["kind", "comparison", "exposure", "participant", "image", "chose_a"]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return {}
    by = ["kind", "comparison", "exposure"]
    table = crossed_rates(frame, by, "chose_a", "participant", "image")
    return {(r.kind, r.comparison, r.exposure): (r.lo, r.hi) for r in table.itertuples(index=False)}


def cell_rates(engine: Engine, study_id: str) -> list[Cell]:
    """Per cell: trials assigned and answered, method_a chosen, crossed 95 % interval."""
    with engine.connect() as conn:
        rows = conn.execute(text(_CELLS_SQL), {"id": study_id}).all()
    intervals = _live_intervals(engine, study_id)
    cells = []
    for kind, comparison, exposure, assigned, answered, chose_a, timing_ok in rows:
        chose_a, timing_ok = int(chose_a or 0), int(timing_ok or 0)
        rate = low = high = None
        if answered:
            rate = chose_a / answered
            low, high = intervals.get((kind, comparison, exposure), (None, None))
            # One participant or one image so far: no interval yet.
            low, high = (None, None) if low is None or low != low else (low, high)
        counts = (assigned, answered, chose_a, timing_ok)
        cells.append(Cell(kind, comparison, exposure, *counts, rate, low, high))
    kind_order = {"test": 0, "catch": 1, "practice": 2}
    cells.sort(key=lambda c: (kind_order.get(c.kind, 3), c.comparison, _exposure_order(c.exposure)))
    return cells


def progress_snapshot(engine: Engine, study_id: str) -> dict[str, Any]:
    """Everything the progress page shows, JSON-able."""
    cells = cell_rates(engine, study_id)
    with engine.connect() as conn:
        title = conn.execute(text("SELECT title FROM study WHERE id = :id"), {"id": study_id})
        title = title.scalar_one_or_none()
    return {
        "study_id": study_id,
        "title": title,
        "status": study_status(engine, study_id),
        "participants": participant_counts(engine, study_id),
        "responses": sum(c.answered for c in cells),
        "cells": [c.__dict__ for c in cells],
    }


# ---------------------------------------------------------------- pages


@bp.get("/")
def progress() -> Response:
    """The progress page: participants, responses and preference rates per cell."""
    snapshot = progress_snapshot(_engine(), _study_id())
    csrf = csrf_token() if request.cookies.get(COOKIE) else None
    return make_response(render_template("admin_progress.html", s=snapshot, csrf=csrf))


@bp.get("/api/progress")
def progress_json() -> Response:
    """The progress snapshot as JSON (for scripts holding the bearer token)."""
    return jsonify(progress_snapshot(_engine(), _study_id()))


@bp.post("/status")
def set_status() -> Response:
    """Pause, close or reopen the study (form field or JSON `action`)."""
    payload = request.get_json(silent=True) if request.is_json else request.form
    action = payload.get("action") if hasattr(payload, "get") else None
    if not isinstance(action, str) or action not in ACTIONS:
        expected = ", ".join(ACTIONS)
        return make_response(jsonify(error=f"action must be one of {expected}"), 422)
    engine, study_id = _engine(), _study_id()
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE study SET status = :s WHERE id = :id"),
            {"s": ACTIONS[action], "id": study_id},
        )
    if request.is_json:
        return jsonify(study_id=study_id, status=ACTIONS[action])
    return redirect(url_for("admin.progress"), code=303)


def _download(chunks: Any, filename: str, mimetype: str) -> Response:
    # The chunks hold the engine and study id already: no request context is needed to stream.
    response = Response(chunks, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/export/responses.csv")
def export_responses() -> Response:
    """Download responses.csv (contract 5, docs/contracts.md) for this study."""
    return _download(iter_responses_csv(_engine(), _study_id()), "responses.csv", "text/csv")


@bp.get("/export/participants.csv")
def export_participants() -> Response:
    """Download participants.csv (for payments) for this study."""
    chunks = iter_participants_csv(_engine(), _study_id())
    return _download(chunks, "participants.csv", "text/csv")


@bp.get("/export/study.json")
def export_study_json() -> Response:
    """Download study.json: the spec, its hash, the image-set digests and exclusion settings."""
    try:
        doc = study_document(_engine(), _study_id())
    except UserError as err:
        return make_response(jsonify(error=str(err)), 409)
    body = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    return _download([body], "study.json", "application/json")
