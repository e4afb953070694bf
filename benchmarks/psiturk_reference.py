"""psiTurk 3.3.1 as the load benchmark's reference server, run in the same benchmark run.

psiTurk is installed into a virtual environment of its own (its pins clash with crnkit's:
Flask 1.1, SQLAlchemy 1.3, gevent), for example

    python3 -m venv /tmp/psiturk-venv
    /tmp/psiturk-venv/bin/pip install psiturk==3.3.1 'pyopenssl>=24'

(3.3.1 pins pyOpenSSL 22, which fails to import against the cryptography it pulls in; a newer
pyOpenSSL fixes the import.) The benchmark copies psiTurk's own example, binds it to the
loopback address with its other server defaults (gevent workers, 2 x cores + 1 of them, SQLite
participants.db), and drives it the way psiturk.js does: GET /exp and POST /inexp to start,
then after every trial a PUT /sync/<uniqueId> carrying the whole data record so far. A trial
counts as acknowledged when its save answered 200; the integrity check reads participants.db
and counts the trials each participant's stored record holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import time
from pathlib import Path

from lean_client import Connection, call, wait_until_up

from study.simulate import SimConfig, SimResult


def start_psiturk(bin_dir: Path, root: Path, port: int) -> subprocess.Popen:
    """psiTurk's example under `root`, served on 127.0.0.1:`port`; returns once it answers."""
    subprocess.run(
        [str(bin_dir / "psiturk-setup-example")], cwd=root, check=True, capture_output=True
    )
    example = root / "psiturk-example"
    config = (example / "config.txt").read_text(encoding="utf-8")
    config = re.sub(r"^;host = .*$", "host = 127.0.0.1", config, flags=re.M)
    config = re.sub(r"^;port = .*$", f"port = {port}", config, flags=re.M)
    (example / "config.txt").write_text(config, encoding="utf-8")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(
        [str(bin_dir / "psiturk-server")],
        cwd=example,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return wait_until_up(proc, f"http://127.0.0.1:{port}/", "psiturk-server")


async def _participant(index, port, trials, config: SimConfig, result: SimResult) -> None:
    conn = Connection("127.0.0.1", port)
    worker, assignment = f"debugW{index:05d}", f"debugA{index:05d}"
    uid = f"{worker}:{assignment}"
    until = time.monotonic() + config.retry_for_s
    query = f"hitId=debugHIT&assignmentId={assignment}&workerId={worker}&mode=debug"
    record = {
        "condition": 0,
        "counterbalance": 0,
        "assignmentId": assignment,
        "workerId": worker,
        "hitId": "debugHIT",
        "currenttrial": 0,
        "bonus": 0,
        "data": [],
        "questiondata": {},
        "eventdata": [],
        "useragent": "crnkit-bench/1",
        "mode": "debug",
    }
    try:
        status, _ = await call(
            conn, result, "enrol", "GET", f"/exp?{query}", None, None, until, form=True
        )
        if status != 200:
            result.errors["enrol_failed"] += 1
            return
        await call(
            conn, result, "inexp", "POST", "/inexp", {"uniqueId": uid}, None, until, form=True
        )
        result.participants += 1
        for trial in range(trials):
            record["currenttrial"] = trial + 1
            choice = "left" if trial % 2 else "right"
            record["data"].append(
                {
                    "uniqueid": uid,
                    "current_trial": trial,
                    "dateTime": int(time.time() * 1000),
                    "trialdata": {
                        "phase": "TEST",
                        "choice": choice,
                        "rt": 812,
                        "exposure_ms": 500,
                    },
                }
            )
            until = time.monotonic() + config.retry_for_s
            status, _ = await call(
                conn, result, "answer", "PUT", f"/sync/{uid}", record, None, until
            )
            if status != 200:
                result.errors[f"answer_{status}"] += 1
                return
            result.acked.append((uid, trial, choice))
        result.finished += 1
    except TimeoutError:
        result.errors["gave_up"] += 1
    finally:
        conn.close()


def run_psiturk_load(port: int, trials: int, config: SimConfig) -> SimResult:
    """`config.participants` psiturk.js-like participants of `trials` trials each."""

    async def run() -> None:
        sem = asyncio.Semaphore(config.concurrency)

        async def one(index: int) -> None:
            async with sem:
                await _participant(index, port, trials, config, result)

        await asyncio.gather(*(one(i) for i in range(config.participants)))

    result = SimResult()
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(run())
    result.wall_s = time.perf_counter() - wall
    result.cpu_s = time.process_time() - cpu
    return result


def psiturk_integrity(db_path: Path, result: SimResult) -> dict:
    """Trials stored in participants.db (each participant's last saved record) vs acknowledged."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT uniqueid, datastring FROM assignments").fetchall()
    stored = sum(len(json.loads(text)["data"]) for _, text in rows if text)
    acked: dict[str, int] = {}
    for uid, _, _ in result.acked:
        acked[uid] = acked.get(uid, 0) + 1
    per_participant = {uid: len(json.loads(text)["data"]) for uid, text in rows if text}
    lost = sum(max(0, n - per_participant.get(uid, 0)) for uid, n in acked.items())
    return {
        "stored": stored,
        "acknowledged": len(result.acked),
        "stored_equals_acknowledged": stored == len(result.acked),
        "missing": lost,
        "ok": lost == 0,
    }
