"""Who may enter: one person is one worker, MTurk's reassignments, first-page refusals, favicon."""

from __future__ import annotations

import pytest
from ops_helpers import answer_body, participate
from sqlalchemy import text

from study.app import runtime

MTURK = {
    "workerId": "A1WORKER",
    "assignmentId": "3ASSIGNONE",
    "hitId": "3HIT",
    "turkSubmitTo": "https://workersandbox.mturk.com",
}
PROLIFIC = {"platform": {"kind": "prolific", "completion_code": "C0DE42"}}


def _count(app, sql: str) -> int:
    with runtime(app).engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


@pytest.mark.parametrize("variant", ["W1\n", " W1", "w1", "W1\r\n", "\tW1 "])
def test_a_finished_worker_cannot_take_the_study_again_under_a_padded_id(ops_factory, variant):
    app = ops_factory(name="prolific", **PROLIFIC)
    client = app.test_client()
    participate(client, {"PROLIFIC_PID": "W1"})
    reply = client.post("/api/enrol", json={"params": {"PROLIFIC_PID": variant}})
    assert reply.status_code == 409 and "already taken part" in reply.get_json()["error"]
    assert _count(app, "SELECT count(*) FROM participant") == 1
    page = client.get("/", query_string={"PROLIFIC_PID": variant})
    assert page.status_code == 409 and b"already taken part" in page.data
    assert b"study-config" not in page.data  # no Start button that would fail later


@pytest.mark.parametrize("bad", ["W1\n\nX", "W1\x00", "W\x1b[0m", "W 1"])
def test_ids_with_control_characters_inside_are_refused(ops_factory, bad):
    app = ops_factory(name="prolific", **PROLIFIC)
    client = app.test_client()
    reply = client.post("/api/enrol", json={"params": {"PROLIFIC_PID": bad}})
    error = reply.get_json()["error"]
    assert reply.status_code == 422 and ("not a valid id" in error or "NUL" in error)
    assert client.get("/", query_string={"PROLIFIC_PID": bad}).status_code == 400
    assert _count(app, "SELECT count(*) FROM participant") == 0


def _mturk_app(ops_factory):
    return ops_factory(name="mturk", platform={"kind": "mturk", "mturk_sandbox": True})


def test_mturk_reenrolment_with_a_new_assignment_submits_the_new_one(ops_factory):
    """A worker who returned the HIT and took it again holds a new assignmentId: use that one."""
    app = _mturk_app(ops_factory)
    client = app.test_client()
    first = participate(client, MTURK, stop_after=3)
    again = client.post(
        "/api/enrol", json={"params": {**MTURK, "assignmentId": "3ASSIGNTWO"}}
    ).get_json()
    assert again["resumed"] and again["state"]["answered"] == 3
    assert again["participant_id"] == first["participant_id"]
    headers = {"Authorization": f"Bearer {again['token']}"}
    state = again["state"]
    while not state["done"]:
        trial = state["next"]
        reply = client.post(
            f"/api/trials/{trial['id']}/answer", json=answer_body(trial), headers=headers
        )
        state = reply.get_json()
    assert state["completion"]["fields"]["assignmentId"] == "3ASSIGNTWO"
    assert _count(app, "SELECT count(*) FROM participant") == 1


def test_mturk_finished_worker_may_come_back_to_submit_but_not_take_another_hit(ops_factory):
    app = _mturk_app(ops_factory)
    client = app.test_client()
    participate(client, MTURK)
    # Same HIT, new assignment (the submit failed, the worker took the HIT again): submit it.
    back = client.post("/api/enrol", json={"params": {**MTURK, "assignmentId": "3ASSIGNNEW"}})
    assert back.status_code == 200
    state = back.get_json()["state"]
    assert state["done"] and state["completion"]["fields"]["assignmentId"] == "3ASSIGNNEW"
    assert client.get("/", query_string={**MTURK, "assignmentId": "3ASSIGNNEW"}).status_code == 200
    # Another HIT of the same study: the worker has taken part already.
    other = {**MTURK, "hitId": "3OTHERHIT", "assignmentId": "3ASSIGNX"}
    reply = client.post("/api/enrol", json={"params": other})
    assert reply.status_code == 409
    page = client.get("/", query_string=other)
    assert page.status_code == 409 and b"already taken part" in page.data


def _set_status(app, status: str) -> None:
    with runtime(app).engine.begin() as conn:
        conn.execute(text("UPDATE study SET status = :s"), {"s": status})


def test_paused_study_says_so_on_the_first_page(ops_factory):
    app = ops_factory(name="prolific", **PROLIFIC)
    client = app.test_client()
    started = participate(client, {"PROLIFIC_PID": "W2"}, stop_after=1)
    _set_status(app, "paused")
    page = client.get("/", query_string={"PROLIFIC_PID": "NEWCOMER"})
    assert page.status_code == 403 and b"paused" in page.data and b"study-config" not in page.data
    # Someone already enrolled may finish: their page starts as usual.
    mine = client.get("/", query_string={"PROLIFIC_PID": "W2"})
    assert mine.status_code == 200 and b"study-config" in mine.data
    assert started["answered"] == 1


def test_local_page_of_a_closed_study_warns_before_start(ops_client, ops_app):
    _set_status(ops_app, "closed")
    page = ops_client.get("/")
    assert page.status_code == 200 and b'id="study-notice"' in page.data
    assert b"closed and does not accept new participants" in page.data


def test_prolific_link_without_pid_explains_and_offers_a_preview(ops_factory):
    app = ops_factory(name="prolific", **PROLIFIC)
    client = app.test_client()
    page = client.get("/?STUDY_ID=abc")
    assert page.status_code == 400
    assert b"runs on Prolific" in page.data and b'href="?preview=1"' in page.data
    preview = client.get("/?preview=1")
    assert preview.status_code == 200 and b"This is a preview" in preview.data
    assert b"study-config" not in preview.data
    assert _count(app, "SELECT count(*) FROM participant") == 0


def test_favicon_is_served_and_linked(ops_client):
    with ops_client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
        assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert b'rel="icon" href="/favicon.ico"' in ops_client.get("/").data


def test_an_enrolment_pool_plans_ahead_and_keeps_balance_and_exports_clean(ops_factory, tmp_path):
    from crn.cli import main as crnkit
    from study.vacancies import fill_vacancies

    app = ops_factory(name="pool")
    rt = runtime(app)
    assert fill_vacancies(rt, 4) == 4 and fill_vacancies(rt, 4) == 0
    assert _count(app, "SELECT count(*) FROM participant WHERE status = 'vacant'") == 4
    client = app.test_client()
    for _ in range(6):  # 4 claimed from the pool, 2 planned on arrival
        participate(client, stop_after=1)
    assert _count(app, "SELECT count(*) FROM participant WHERE status = 'vacant'") == 0
    with runtime(app).engine.connect() as conn:
        counts = (
            conn.execute(
                text(
                    "SELECT count(*) FROM trial WHERE kind = 'test' "
                    "GROUP BY comparison, exposure, image_id"
                )
            )
            .scalars()
            .all()
        )
    # 6 participants x 12 test trials over 72 (cell, image) pairs: each exactly once, as without.
    assert len(counts) == 72 and set(counts) == {1}
    fill_vacancies(rt, 2)  # planned but unclaimed: nobody, in every export and count
    out = tmp_path / "responses.csv"
    db = rt.engine.url.database
    args = [
        "study",
        "export",
        "--db",
        db,
        "--out",
        str(out),
        "--participants",
        str(tmp_path / "p.csv"),
    ]
    assert crnkit(args) == 0
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + 6
    headers = {"Authorization": "Bearer ops-admin-token-0123456789"}
    progress = client.get("/admin/api/progress", headers=headers).get_json()
    assert progress["participants"]["total"] == 6 and "vacant" not in progress["participants"]
    test_cells = [c for c in progress["cells"] if c["kind"] == "test"]
    assert sum(c["assigned"] for c in test_cells) == 6 * 12


def test_the_pool_refills_in_the_background_and_stops_when_paused(ops_factory):
    import time

    from study.app import FILLER, create_app

    base = ops_factory(name="bg")
    config = {**{"TESTING": True}, "spec_path": runtime(base).config.spec_path}
    config |= {"database_url": runtime(base).config.database_url, "enrol_pool": 3}
    app = create_app(config)
    try:
        deadline = time.monotonic() + 30
        while _count(app, "SELECT count(*) FROM participant WHERE status = 'vacant'") < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        participate(app.test_client(), stop_after=1)
        while _count(app, "SELECT count(*) FROM participant WHERE status = 'vacant'") < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert _count(app, "SELECT count(*) FROM participant WHERE status = 'vacant'") == 3
    finally:
        app.extensions[FILLER].stop.set()
        app.extensions[FILLER].join(timeout=10)
        runtime(app).engine.dispose()


def test_pool_refill_pauses_between_plans_and_stops_when_asked(ops_factory, monkeypatch):
    """The background refill waits PACE_S after each plan, and an already-set stop ends it."""
    import threading

    from study import vacancies

    rt = runtime(ops_factory(name="paced"))
    waits = []

    class Recorder(threading.Event):
        def wait(self, timeout=None):
            waits.append(timeout)
            return False

    assert vacancies.fill_vacancies(rt, 3, Recorder()) == 3
    assert waits == [vacancies.PACE_S] * 3
    stop = threading.Event()
    stop.set()
    assert vacancies.fill_vacancies(rt, 6, stop) == 1  # one plan, then the stop is seen
