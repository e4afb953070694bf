"""The study on PostgreSQL: the participant API, racing enrolments, and two server instances
(separate processes on separate ports, as on two hosts) sharing one database.

A throwaway cluster is started for the session (`pg_cluster`); in CI these tests never skip.
The fault tests (SIGKILL, dropped connections, racing answers) run on PostgreSQL too, through
the `live_db` fixture.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from ops_helpers import ADMIN_TOKEN, participate
from sqlalchemy import text
from study_helpers import study_document, write_study_toml

from crn.cli import main as crnkit
from study.app import create_app, runtime
from study.db import make_engine
from study.export import integrity_report, iter_responses_csv, sqlalchemy_url
from study.simulate import SimConfig, SimResult, simulate

TEST_TRIALS = 12  # per participant in the fixture study: 2 comparisons x 3 exposures x 12 images


@pytest.fixture
def pg_app(pg_url, study_toml):
    """The fixture study served from a fresh PostgreSQL database."""
    app = create_app(
        {
            "TESTING": True,
            "spec_path": study_toml,
            "database_url": sqlalchemy_url(pg_url),
            "admin_token": ADMIN_TOKEN,
        }
    )
    yield app
    runtime(app).engine.dispose()


def _query(engine, sql: str) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def _cell_counts(engine) -> Counter:
    rows = _query(
        engine,
        "SELECT comparison, exposure, image_id, count(*) FROM trial WHERE kind = 'test' "
        "GROUP BY comparison, exposure, image_id",
    )
    return Counter(n for *_, n in rows)


def test_participant_api_on_postgresql(pg_app):
    client = pg_app.test_client()
    done = [participate(client) for _ in range(2)]
    person = participate(client, stop_after=3)
    trial = person["state"]["next"]
    headers = person["headers"]
    bad_events = [
        {"events": [{"type": "resize", "detail": "a\x00b"}]},
        {"events": [{"type": "resize", "detail": "a\ud800b"}]},
        {"events": [{"type": "resize", "trial_id": 10**400}]},
    ]
    for body in bad_events:
        reply = client.post("/api/events", json=body, headers=headers)
        assert reply.status_code == 422, reply.get_json()
    body = {"choice": "left", "response_ms": 10**400}
    reply = client.post(f"/api/trials/{trial['id']}/answer", json=body, headers=headers)
    assert reply.status_code == 422
    engine = runtime(pg_app).engine
    answered = sum(p["answered"] for p in done) + 3
    assert _query(engine, "SELECT count(*) FROM response")[0][0] == answered
    assert _query(engine, "SELECT count(*) FROM event")[0][0] == 0
    csv_text = "".join(iter_responses_csv(engine, "fixture-study"))
    assert len(csv_text.splitlines()) == answered + 1
    client.environ_base["HTTP_USER_AGENT"] = "=cmd|' /C calc'!A0"
    participate(client, stop_after=1)
    assert ",'=cmd|' /C calc'!A0,paired\n" in "".join(iter_responses_csv(engine))


def test_concurrent_enrolments_on_postgresql_stay_balanced(pg_app):
    barrier = threading.Barrier(12)
    codes: list[int] = []

    def one() -> None:
        client = pg_app.test_client()
        barrier.wait()
        codes.append(client.post("/api/enrol", json={"params": {}}).status_code)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [201] * 12
    engine = runtime(pg_app).engine
    # 12 participants x 12 test trials over 72 (cell, image) pairs: each exactly twice.
    assert _cell_counts(engine) == Counter({2: 72})
    coverage = _query(engine, "SELECT min(n), max(n), sum(n) FROM coverage")[0]
    assert tuple(coverage) == (2, 2, 12 * TEST_TRIALS)


def _run_split(urls: list[str], participants: int) -> SimResult:
    """Simulated participants spread evenly over the instances, all running at once."""
    result = SimResult()
    config = SimConfig(
        participants=participants // len(urls),
        concurrency=participants,
        progress=False,
        seed=7,
        retry_for_s=60.0,
    )
    runs = [threading.Thread(target=simulate, args=(url, config, None, result)) for url in urls]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=300)
    return result


def _admin_export(url: str) -> bytes:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    reply = httpx.get(f"{url}/admin/export/responses.csv", headers=headers, timeout=60)
    assert reply.status_code == 200
    return reply.content


def _by_cell(csv_bytes: bytes) -> Counter:
    import csv
    import io

    rows = csv.DictReader(io.StringIO(csv_bytes.decode()))
    return Counter((r["kind"], r["comparison"], r["exposure"]) for r in rows)


def test_two_server_instances_share_one_postgresql_database(
    pg_cluster, image_sets, tmp_path, live_server
):
    participants = 12
    toml = write_study_toml(tmp_path / "two.toml", study_document(image_sets, tmp_path))
    shared = pg_cluster.create_database()
    # Two hosts: two processes, two ports, one database, one key file (copied to each host).
    key = ("--key-file", str(tmp_path / "shared.key"))
    first = live_server(toml, shared, extra=("--workers", "2", *key))
    second = live_server(toml, shared, extra=("--workers", "2", *key))
    result = _run_split([first.url, second.url], participants)
    assert result.finished == participants, dict(result.errors)
    assert result.summary()["responses_5xx"] == 0
    engine = make_engine(sqlalchemy_url(shared))
    try:
        report = integrity_report(engine, "fixture-study", result.acked)
        assert report["ok"] and report["stored_equals_acknowledged"], report
        # No trial assigned twice: one row per (participant, position), one answer per trial.
        positions = _query(
            engine,
            "SELECT count(*), count(DISTINCT participant_id * 1000 + position) FROM trial",
        )[0]
        assert positions[0] == positions[1]
        assert _cell_counts(engine) == Counter({2: 72})  # balanced as on one instance
    finally:
        engine.dispose()
    # Either instance exports the same file, and so does the command line.
    exported = _admin_export(first.url)
    assert exported == _admin_export(second.url)
    out = tmp_path / "responses.csv"
    assert crnkit(["study", "export", "--db", shared, "--out", str(out)]) == 0
    assert out.read_bytes() == exported
    # The same load on a single instance gives the same export, cell for cell.
    single_db = pg_cluster.create_database()
    single = live_server(toml, single_db, extra=("--workers", "2", *key))
    alone = _run_split([single.url], participants)
    assert alone.finished == participants
    single_export = _admin_export(single.url)
    assert _by_cell(single_export) == _by_cell(exported)
    assert len(single_export.splitlines()) == len(exported.splitlines())
