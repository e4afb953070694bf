"""Faults: server SIGKILLed mid-run, clients dropping connections, racing answers, full disk, locks.

Small sizes (10 participants × 16 trials) so that the whole file runs in seconds.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import httpx
import pytest
from ops_helpers import answer_body, enrol
from sqlalchemy import event, text

from study.app import runtime
from study.export import integrity_report
from study.simulate import SimConfig, SimResult, simulate

PARTICIPANTS, TRIALS = 10, 16


def _engine(url: str):
    from study.db import make_engine
    from study.export import sqlalchemy_url

    return make_engine(sqlalchemy_url(url))


def _integrity(url: str, result: SimResult) -> dict:
    engine = _engine(url)
    try:
        return integrity_report(engine, "fixture-study", result.acked)
    finally:
        engine.dispose()


def _assert_all_kept(report: dict, result: SimResult) -> None:
    assert result.finished == PARTICIPANTS, dict(result.errors)
    assert len(result.acked) == PARTICIPANTS * TRIALS
    assert report["ok"] and report["stored_equals_acknowledged"], report
    assert result.summary()["responses_5xx"] == 0


def test_sigkill_mid_run_then_restart_keeps_every_acknowledged_answer(
    study_toml, live_db, live_server
):
    db = live_db
    server = live_server(study_toml, db, extra=("--workers", "2", "--threads", "4"))
    config = SimConfig(
        participants=PARTICIPANTS, concurrency=PARTICIPANTS, think_ms=40.0, progress=False,
        retry_for_s=60.0, seed=3,
    )  # fmt: skip
    result = SimResult()
    run = threading.Thread(target=simulate, args=(server.url, config, None, result))
    run.start()
    deadline = time.monotonic() + 60
    while len(result.acked) < PARTICIPANTS * TRIALS // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    acked_before_crash = len(result.acked)
    server.kill()  # SIGKILL to master and workers: no shutdown code runs
    assert 0 < acked_before_crash < PARTICIPANTS * TRIALS
    live_server(study_toml, db, port=server.port, extra=("--workers", "2", "--threads", "4"))
    run.join(timeout=120)
    assert not run.is_alive()
    assert sum(v for k, v in result.errors.items() if k != "gave_up") > 0  # it did see the crash
    _assert_all_kept(_integrity(db, result), result)


def test_clients_dropping_connections_after_sending_lose_nothing(study_toml, live_db, live_server):
    db = live_db
    server = live_server(study_toml, db)
    config = SimConfig(
        participants=PARTICIPANTS, concurrency=5, drop_rate=0.3, progress=False, seed=5
    )
    result = simulate(server.url, config)
    assert result.errors["dropped_by_client"] > 0
    _assert_all_kept(_integrity(db, result), result)


async def _race(url: str, trial_id: int, headers: dict, bodies: list[dict]) -> list:
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        calls = [client.post(f"/api/trials/{trial_id}/answer", json=b) for b in bodies]
        return await asyncio.gather(*calls)


@pytest.mark.parametrize("same", [True, False])
def test_simultaneous_answers_to_one_trial_store_exactly_one(
    study_toml, live_db, live_server, same
):
    db = live_db
    server = live_server(study_toml, db, extra=("--workers", "2", "--threads", "8"))
    enrolled = httpx.post(f"{server.url}/api/enrol", json={"params": {}}).json()
    trial = enrolled["state"]["next"]
    headers = {"Authorization": f"Bearer {enrolled['token']}"}
    choices = ["left"] * 12 if same else ["left", "right"] * 6
    bodies = [answer_body(trial, choice) for choice in choices]
    responses = asyncio.run(_race(server.url, trial["id"], headers, bodies))
    codes = sorted(r.status_code for r in responses)
    engine = _engine(db)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT chosen_method, t.left_method FROM response r JOIN trial t "
                 "ON t.id = r.trial_id WHERE r.trial_id = :t"), {"t": trial["id"]}
        ).all()  # fmt: skip
    engine.dispose()
    assert len(rows) == 1
    stored_side = "left" if rows[0][0] == rows[0][1] else "right"
    for body, response in zip(bodies, responses, strict=True):
        expected = 200 if body["choice"] == stored_side else 409
        assert response.status_code == expected, (codes, server.output()[-3000:])
    assert codes.count(200) == (12 if same else 6)


def _answer_current(client, person, trial: dict | None = None) -> tuple:
    if trial is None:
        trial = client.get("/api/state", headers=person["headers"]).get_json()["next"]
    body = answer_body(trial)
    url = f"/api/trials/{trial['id']}/answer"
    return trial, body, client.post(url, json=body, headers=person["headers"])


def _stored(app, trial_id: int) -> int:
    with runtime(app).engine.connect() as conn:
        query = text("SELECT COUNT(*) FROM response WHERE trial_id = :t")
        return conn.execute(query, {"t": trial_id}).scalar_one()


def _set_pragma(app, pragma: str):
    """Apply `pragma` to every new connection of the app's engine; return the remover."""
    engine = runtime(app).engine

    def apply(dbapi_conn, _record):
        dbapi_conn.execute(pragma)

    event.listen(engine, "connect", apply)
    engine.dispose()

    def remove():
        event.remove(engine, "connect", apply)
        engine.dispose()

    return remove


def _assert_retryable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"]


def test_full_disk_is_a_retryable_503_not_a_silent_loss(ops_app):
    client = ops_app.test_client()
    people = [enrol(client) for _ in range(3)]
    for person in people:
        person["headers"] = {"Authorization": f"Bearer {person['token']}"}
    with runtime(ops_app).engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    remove = _set_pragma(ops_app, f"PRAGMA max_page_count = {pages}")
    failed = None
    for k in range(3 * TRIALS):
        trial, body, response = _answer_current(client, people[k % 3])
        if response.status_code != 200:
            failed = (people[k % 3], trial, body, response)
            break
    assert failed is not None, "the database never filled up"
    person, trial, body, response = failed
    _assert_retryable(response)
    assert _stored(ops_app, trial["id"]) == 0
    remove()
    url = f"/api/trials/{trial['id']}/answer"
    retried = client.post(url, json=body, headers=person["headers"])
    assert retried.status_code == 200 and _stored(ops_app, trial["id"]) == 1


def test_locked_database_is_a_retryable_503(ops_app, tmp_path):
    client = ops_app.test_client()
    person = enrol(client)
    person["headers"] = {"Authorization": f"Bearer {person['token']}"}
    remove = _set_pragma(ops_app, "PRAGMA busy_timeout = 100")
    locker = sqlite3.connect(runtime(ops_app).engine.url.database, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        trial, body, response = _answer_current(client, person, person["state"]["next"])
        _assert_retryable(response)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert _stored(ops_app, trial["id"]) == 0
    remove()
    url = f"/api/trials/{trial['id']}/answer"
    retried = client.post(url, json=body, headers=person["headers"])
    assert retried.status_code == 200 and _stored(ops_app, trial["id"]) == 1
