"""The participant JSON API over a temp database: auth, answer rules, errors, platforms, balance."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import text

from study.app import runtime

FIXTURE_TOTAL = 16  # 2 practice + 12 test + 2 catch


def enrol(client, params: dict | None = None, status: int = 201) -> dict:
    """Enrol through the API and return the reply body."""
    reply = client.post("/api/enrol", json={"params": params or {}, "window_w": 1200})
    assert reply.status_code == status, reply.json
    return reply.json


def auth(token: str) -> dict:
    """The participant's Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def answer_body(trial: dict, choice: str = "left", **changes) -> dict:
    """A valid answer for `trial` (measured exposure 2 ms off target for timed trials)."""
    body = {
        "choice": choice,
        "response_ms": 800.0,
        "frame_ms": 16.7,
        "dpr": 2.0,
        "window_w": 1200,
        "window_h": 800,
        "focus_lost": False,
    }
    if trial["exposure_ms"] is not None:
        body["exposure_ms_measured"] = trial["exposure_ms"] + 2.0
    body.update(changes)
    return body


def post_answer(client, token: str, trial: dict, **kwargs):
    """POST an answer to `trial`."""
    return client.post(
        f"/api/trials/{trial['id']}/answer", json=answer_body(trial, **kwargs), headers=auth(token)
    )


def answer_all(client, token: str, trial: dict | None, choose=lambda t: "left") -> list[dict]:
    """Answer from `trial` to the end; return every acknowledgement."""
    acks = []
    while trial is not None:
        reply = post_answer(client, token, trial, choice=choose(trial))
        assert reply.status_code == 200, reply.json
        acks.append(reply.json)
        trial = reply.json["next"]
    return acks


def export_rows(app, where: str = "") -> list[dict]:
    """Rows of the responses_export view."""
    with runtime(app).engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM responses_export {where} ORDER BY trial_index"))
        return [dict(r) for r in rows.mappings()]


def scalar(app, sql: str, **params):
    """One value from the app's database."""
    with runtime(app).engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


# ------------------------------------------------------------------ a whole participant


def test_enrol_and_answer_everything(app, client):
    """Every trial answered in order: rows in the export view, completion only at the end."""
    enrolled = enrol(client)
    state = enrolled["state"]
    assert state["total"] == FIXTURE_TOTAL and state["answered"] == 0 and not state["done"]
    assert state["next"]["index"] == 0 and state["next"]["practice"] is True
    assert set(state["next"]) == {"id", "index", "practice", "exposure_ms", "mode", "left", "right"}
    acks = answer_all(client, enrolled["token"], state["next"], lambda t: "right")
    assert [a["answered"] for a in acks] == list(range(1, FIXTURE_TOTAL + 1))
    assert all(a["completion"] is None and not a["done"] for a in acks[:-1])
    assert acks[-1]["done"] and acks[-1]["next"] is None
    assert acks[-1]["completion"] == {"kind": "code", "code": "FIXTURE1", "url": None, "fields": {}}
    rows = export_rows(app)
    assert len(rows) == FIXTURE_TOTAL
    assert [r["trial_index"] for r in rows] == list(range(FIXTURE_TOTAL))
    assert Counter(r["kind"] for r in rows) == {"practice": 2, "test": 12, "catch": 2}
    assert {r["participant_id"] for r in rows} == {enrolled["participant_id"]}
    for row in rows:
        assert row["chosen_method"] == row["right_method"]
        assert row["study_id"] == "fixture-study" and row["dataset"] == "synthetic"
        assert row["platform"] == "local" and row["dpr"] == 2.0 and row["window_w"] == 1200
        assert row["answered_at"].endswith("Z") and row["shown_at"] <= row["answered_at"]
        if row["exposure"] == "unlimited":
            assert row["exposure_ms_target"] is None and row["exposure_ms_measured"] is None
        else:
            assert row["exposure_ms_measured"] == row["exposure_ms_target"] + 2.0
        assert row["timing_ok"] == 1
    state = client.get("/api/state", headers=auth(enrolled["token"])).json
    assert state["done"] and state["answered"] == FIXTURE_TOTAL and state["completion"]["code"]
    assert scalar(app, "SELECT status FROM participant") == "finished"


def test_practice_feedback_names_the_correct_side(client):
    """Practice answers get feedback; method a (real) is the correct answer."""
    enrolled = enrol(client)
    trial = enrolled["state"]["next"]
    ack = post_answer(client, enrolled["token"], trial, choice="left").json
    assert ack["feedback"]["correct_side"] in ("left", "right")
    assert ack["feedback"]["correct"] == (ack["feedback"]["correct_side"] == "left")
    ack2 = post_answer(client, enrolled["token"], ack["next"], choice="left").json
    assert ack2["feedback"] is not None
    ack3 = post_answer(client, enrolled["token"], ack2["next"]).json
    assert ack3["feedback"] is None


def test_timing_ok_rule_and_measured_exposure_kept(app, client):
    """A timed answer off by more than one frame is stored with timing_ok = 0, never dropped."""
    enrolled = enrol(client)
    token, trial = enrolled["token"], enrolled["state"]["next"]
    off = {"frame_ms": 16.0, "miss": 16.5, "fallback_ok": 16.6, "fallback_miss": 16.8}
    results = []
    while trial is not None:
        if trial["exposure_ms"] is None:
            body = {}
        else:
            case = len(results) % 4
            name = ("frame_ms", "miss", "fallback_ok", "fallback_miss")[case]
            frame = 16.0 if case < 2 else None
            body = {"exposure_ms_measured": trial["exposure_ms"] + off[name], "frame_ms": frame}
            results.append((trial["id"], case in (0, 2)))
        ack = post_answer(client, token, trial, **body).json
        if trial["exposure_ms"] is not None:
            assert ack["timing_ok"] == int(results[-1][1])
        trial = ack["next"]
    assert len(results) == 8
    stored = dict((r["trial_index"], r) for r in export_rows(app) if r["exposure"] != "unlimited")
    assert len(stored) == 8
    assert sorted(r["timing_ok"] for r in stored.values()) == [0] * 4 + [1] * 4


def test_shown_at_is_answer_time_minus_response_time(app, client):
    """shown_at = answered_at − response_ms on the server's clock (not before served_at)."""
    from datetime import datetime

    enrolled = enrol(client)
    trial = enrolled["state"]["next"]
    post_answer(client, enrolled["token"], trial, response_ms=0.5)
    row = export_rows(app)[0]
    shown = datetime.fromisoformat(row["shown_at"].replace("Z", "+00:00"))
    answered = datetime.fromisoformat(row["answered_at"].replace("Z", "+00:00"))
    assert 0 <= (answered - shown).total_seconds() * 1000 <= 1.5


# ------------------------------------------------------------------ rules and errors


def test_missing_or_invalid_token_is_401(client):
    """No token, a malformed one and an unknown one are all 401 with a JSON error."""
    enrolled = enrol(client)
    trial = enrolled["state"]["next"]
    url = f"/api/trials/{trial['id']}/answer"
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        reply = client.post(url, json=answer_body(trial), headers=headers)
        assert reply.status_code == 401 and "token" in reply.json["error"]
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    reply = client.post(url, json=answer_body(trial), headers=auth("x" * 43))
    assert reply.status_code == 401
    assert client.get("/api/state").status_code == 401
    assert client.post("/api/events", json={"events": []}).status_code == 401


def test_other_participants_trial_is_403_and_unknown_trial_404(client):
    """A valid token cannot answer someone else's trial; tampered ids are 404."""
    first, second = enrol(client), enrol(client)
    reply = post_answer(client, second["token"], first["state"]["next"])
    assert reply.status_code == 403 and "another participant" in reply.json["error"]
    for trial_id in (10**6, 0):
        reply = post_answer(client, first["token"], {"id": trial_id, "exposure_ms": None})
        assert reply.status_code == 404
    for path in ("abc", "-1", "1.5", str(2**70)):
        reply = client.post(f"/api/trials/{path}/answer", json={}, headers=auth(first["token"]))
        assert reply.status_code == 404 and reply.json["error"]


def test_unserved_trial_is_409(app, client):
    """Only the served trial can be answered: a later trial of one's own list is refused."""
    enrolled = enrol(client)
    current = enrolled["state"]["next"]
    later_id = scalar(app, "SELECT id FROM trial WHERE position = 3")
    reply = post_answer(client, enrolled["token"], {"id": later_id, "exposure_ms": None})
    assert reply.status_code == 409 and "not been shown" in reply.json["error"]
    assert post_answer(client, enrolled["token"], current).status_code == 200


def test_replay_gets_same_ack_and_changed_answer_409(app, client):
    """A retried identical answer is acknowledged identically; a different one is refused."""
    enrolled = enrol(client)
    trial = enrolled["state"]["next"]
    first = post_answer(client, enrolled["token"], trial, choice="left")
    again = post_answer(client, enrolled["token"], trial, choice="left")
    assert first.status_code == again.status_code == 200
    assert first.json == again.json
    changed = post_answer(client, enrolled["token"], trial, choice="right")
    assert changed.status_code == 409 and "differently" in changed.json["error"]
    slower = post_answer(client, enrolled["token"], trial, choice="left", response_ms=801.0)
    assert slower.status_code == 409
    assert scalar(app, "SELECT count(*) FROM response") == 1


def test_last_answer_replay_keeps_completion(client):
    """Replaying the final answer returns the completion again (a lost reply is recoverable)."""
    enrolled = enrol(client)
    trial, last = enrolled["state"]["next"], None
    while trial is not None:
        last, ack = trial, post_answer(client, enrolled["token"], trial).json
        trial = ack["next"]
    replay = post_answer(client, enrolled["token"], last)
    assert replay.status_code == 200 and replay.json == ack and ack["completion"]["code"]


@pytest.mark.parametrize(
    ("data", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[" * 30_000 + b"]" * 30_000, 400, "not valid JSON"),
        (json.dumps({"choice": "up", "response_ms": 5}).encode(), 422, "choice"),
        (json.dumps({"choice": "left"}).encode(), 422, "response_ms"),
        (json.dumps({"choice": "left", "response_ms": -3}).encode(), 422, "response_ms"),
        (json.dumps({"choice": "left", "response_ms": True}).encode(), 422, "response_ms"),
        (b'{"choice": "left", "response_ms": NaN}', 422, "response_ms"),
        (json.dumps({"choice": "left", "response_ms": 5, "dpr": 0}).encode(), 422, "dpr"),
        (
            json.dumps({"choice": "left", "response_ms": 5, "window_w": 1.5}).encode(),
            422,
            "window_w",
        ),
        (
            json.dumps({"choice": "left", "response_ms": 5, "focus_lost": "yes"}).encode(),
            422,
            "focus",
        ),
        (json.dumps({"choice": "left", "response_ms": 5, "extra": 1}).encode(), 422, "extra"),
        (
            json.dumps({"choice": "left", "response_ms": 5, "exposure_ms_measured": 3}).encode(),
            422,
            "unlimited",
        ),
    ],
)
def test_malformed_answers_are_4xx(client, data, status, needle):
    """Every malformed answer body is a 4xx JSON error naming the problem; nothing is stored."""
    enrolled = enrol(client)
    trial = enrolled["state"]["next"]  # practice, unlimited
    reply = client.post(
        f"/api/trials/{trial['id']}/answer",
        data=data,
        headers={**auth(enrolled["token"]), "Content-Type": "application/json"},
    )
    assert reply.status_code == status, reply.json
    assert needle in reply.json["error"]
    assert post_answer(client, enrolled["token"], trial).status_code == 200


def test_timed_trial_requires_measured_exposure(client):
    """A timed trial's answer without exposure_ms_measured is refused with 422."""
    enrolled = enrol(client)
    trial = enrolled["state"]["next"]
    while trial["exposure_ms"] is None:
        trial = post_answer(client, enrolled["token"], trial).json["next"]
    body = answer_body(trial)
    del body["exposure_ms_measured"]
    reply = client.post(
        f"/api/trials/{trial['id']}/answer", json=body, headers=auth(enrolled["token"])
    )
    assert reply.status_code == 422 and "exposure_ms_measured" in reply.json["error"]


def test_oversized_body_is_413(client):
    """A body above the limit is refused with a JSON 413 before it is parsed."""
    enrolled = enrol(client)
    trial = enrolled["state"]["next"]
    reply = client.post(
        f"/api/trials/{trial['id']}/answer",
        data=b'{"choice": "' + b"x" * 70_000 + b'"}',
        headers={**auth(enrolled["token"]), "Content-Type": "application/json"},
    )
    assert reply.status_code == 413 and "too large" in reply.json["error"]


def test_unknown_route_and_method_are_json(client):
    """404 and 405 come back as JSON errors too."""
    reply = client.get("/api/nothing")
    assert reply.status_code == 404 and reply.json["error"]
    reply = client.get("/api/enrol")
    assert reply.status_code == 405 and reply.json["error"] and "POST" in reply.headers["Allow"]


def test_events_are_stored_and_checked(app, client):
    """Events of one's own trials are stored; another participant's trial id is 403."""
    first, second = enrol(client), enrol(client)
    own = first["state"]["next"]["id"]
    events = [
        {"type": "focus_lost", "trial_id": own, "detail": "stimulus"},
        {"type": "resize", "trial_id": None, "detail": "800x600"},
        {"type": "fullscreen_exit"},
    ]
    reply = client.post("/api/events", json={"events": events}, headers=auth(first["token"]))
    assert reply.status_code == 200 and reply.json == {"stored": 3}
    assert scalar(app, "SELECT count(*) FROM event WHERE trial_id = :t", t=own) == 1
    reply = client.post("/api/events", json={"events": events}, headers=auth(second["token"]))
    assert reply.status_code == 403
    bad = [{"type": "keylogger"}]
    reply = client.post("/api/events", json={"events": bad}, headers=auth(first["token"]))
    assert reply.status_code == 422 and "type" in reply.json["error"]
    reply = client.post("/api/events", json={"events": []}, headers=auth(first["token"]))
    assert reply.status_code == 422


def test_focus_lost_is_stored_per_trial(app, client):
    """focus_lost of an answer reaches the export as 1."""
    enrolled = enrol(client)
    post_answer(client, enrolled["token"], enrolled["state"]["next"], focus_lost=True)
    assert export_rows(app)[0]["focus_lost"] == 1


def test_health(client):
    """The health route names the study and its status."""
    assert client.get("/api/health").json == {
        "ok": True,
        "study_id": "fixture-study",
        "status": "open",
    }


def test_paused_study_refuses_enrolment_but_lets_participants_finish(app, client):
    """A study that is not open refuses new people; those enrolled may go on answering."""
    enrolled = enrol(client)
    with runtime(app).engine.begin() as conn:
        conn.execute(text("UPDATE study SET status = 'paused'"))
    reply = client.post("/api/enrol", json={"params": {}})
    assert reply.status_code == 403 and "paused" in reply.json["error"]
    assert post_answer(client, enrolled["token"], enrolled["state"]["next"]).status_code == 200


# ------------------------------------------------------------------ platforms


PROLIFIC = {"PROLIFIC_PID": "5f0c0ffee0c0ffee0c0ffee0", "STUDY_ID": "st1", "SESSION_ID": "se1"}
MTURK = {
    "workerId": "A1WORKER",
    "assignmentId": "3ASSIGN",
    "hitId": "3HIT",
    "turkSubmitTo": "https://workersandbox.mturk.com",
}


def test_prolific_entry_resume_redirect_and_no_second_run(app_factory):
    """Prolific: PID required; the same PID resumes with a new token; finishing redirects."""
    app = app_factory(platform={"kind": "prolific", "completion_code": "C0DE42"})
    client = app.test_client()
    reply = client.post("/api/enrol", json={"params": {"STUDY_ID": "st1"}})
    assert reply.status_code == 422 and "PROLIFIC_PID" in reply.json["error"]
    first = enrol(client, PROLIFIC)
    post_answer(client, first["token"], first["state"]["next"])
    again = enrol(client, PROLIFIC, status=200)
    assert again["resumed"] and again["participant_id"] == first["participant_id"]
    assert again["state"]["answered"] == 1
    assert client.get("/api/state", headers=auth(first["token"])).status_code == 401
    acks = answer_all(client, again["token"], again["state"]["next"])
    completion = acks[-1]["completion"]
    assert completion["kind"] == "redirect" and completion["url"].endswith("cc=C0DE42")
    reply = client.post("/api/enrol", json={"params": PROLIFIC})
    assert reply.status_code == 409 and "already taken part" in reply.json["error"]
    row = export_rows(app)[0]
    assert row["platform"] == "prolific" and PROLIFIC["PROLIFIC_PID"] not in row["participant_id"]
    with runtime(app).engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.execute(text("SELECT * FROM participant")))
    assert PROLIFIC["PROLIFIC_PID"] not in dump and "se1" in dump


def test_mturk_preview_stores_nothing_and_submit_posts_back(app_factory):
    """MTurk: a preview enrols no one; the finish is a form POST to externalSubmit."""
    app = app_factory(platform={"kind": "mturk", "mturk_sandbox": True})
    client = app.test_client()
    preview = {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "3HIT"}
    reply = client.post("/api/enrol", json={"params": preview})
    assert reply.status_code == 200 and reply.json == {"preview": True}
    assert scalar(app, "SELECT count(*) FROM participant") == 0
    page = client.get("/", query_string=preview)
    assert page.status_code == 200 and b"Accept the HIT" in page.data
    assert b"study-config" not in page.data
    live = {**MTURK, "turkSubmitTo": "https://www.mturk.com"}
    assert client.post("/api/enrol", json={"params": live}).status_code == 422
    enrolled = enrol(client, MTURK)
    acks = answer_all(client, enrolled["token"], enrolled["state"]["next"])
    completion = acks[-1]["completion"]
    assert completion["kind"] == "post"
    assert completion["url"] == "https://workersandbox.mturk.com/mturk/externalSubmit"
    assert completion["fields"]["assignmentId"] == "3ASSIGN"
    page = client.get("/", query_string=MTURK)
    config = page.data.split(b'id="study-config">')[1].split(b"</script>")[0]
    assert json.loads(config)["params"] == MTURK


def test_excluded_worker_is_refused(tmp_path, app_factory):
    """A worker who took a study listed in exclude_studies is refused and recorded as refused."""
    first = app_factory(platform={"kind": "prolific", "completion_code": "A"})
    enrol(first.test_client(), PROLIFIC)
    second = app_factory(
        toml_name="second.toml",
        study={"id": "second-study"},
        platform={"kind": "prolific", "completion_code": "B", "exclude_studies": ["fixture-study"]},
    )
    client = second.test_client()
    reply = client.post("/api/enrol", json={"params": PROLIFIC})
    assert reply.status_code == 403 and "related study" in reply.json["error"]
    assert scalar(second, "SELECT status FROM participant WHERE study_id = 'second-study'") == (
        "refused"
    )
    other = {**PROLIFIC, "PROLIFIC_PID": "another0person0000000000"}
    assert enrol(client, other)["state"]["total"] == FIXTURE_TOTAL


def test_scheduler_balance_through_the_api(app, client):
    """Six participants' test trials cover every (comparison, exposure, image) cell evenly."""
    for _ in range(6):
        enrol(client)
    with runtime(app).engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT comparison, exposure, image_id, count(*) FROM trial WHERE kind = 'test' "
                "GROUP BY comparison, exposure, image_id"
            )
        ).all()
    # 6 participants × 12 test trials over 6 cells × 12 images: each cell-image exactly once.
    assert len(counts) == 72 and {n for *_, n in counts} == {1}
    per_cell = Counter((c, e) for c, e, _, _ in counts)
    assert set(per_cell.values()) == {12}
