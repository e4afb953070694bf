"""Load benchmark of the study server: a real `crnkit study serve` process, simulated participants.

Two load shapes, each on a fresh study (and a fresh SQLite file unless --db-url is given):
  closed  N participants all at once, no think time
          (target: >= 1100 judgments/s and enrolment p99 < 500 ms)
  paced   N participants arriving over --ramp-s, then each answering once a second
          (target: p99 < 50 ms per request)
Every run ends with the integrity check: answers stored == answers acknowledged, none changed,
no trial answered twice, no participant with a gap. One JSON object per shape on stdout, with
the server's and the client's CPU seconds (per judgment too) and the machine's load average
before and after, so that a reader can tell who was the bottleneck and how busy the machine
was. `--client lean` (default) drives the load with benchmarks/lean_client.py; `--client
httpx` with `crnkit study simulate`'s client, which costs about four times the CPU.

    flock /tmp/crnkit-cpu.lock python benchmarks/bench_study_load.py
    python benchmarks/bench_study_load.py --participants 20 --shapes closed
    python benchmarks/bench_study_load.py --db-url postgresql://crnkit@/crnkit_bench?host=/tmp
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tomli_w

from crn.imageset import write_imageset
from study.commands.serve import DEFAULT_THREADS, default_workers
from study.db import make_engine
from study.export import integrity_report, sqlalchemy_url
from study.simulate import SimConfig, simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lean_client import run_load, wait_until_up

PRACTICE, CATCH = 4, 6
EXPOSURES = [125, 250, 500, 1000, 2000, "unlimited"]
TARGETS = {
    "closed": "judgments_per_s >= 1100 and enrol p99 < 500 ms",
    "paced": "p99 < 50 ms for every endpoint",
}


def write_study(root: Path, study_id: str, trials: int, n_images: int) -> Path:
    """Four tiny image sets and a study.toml with `trials` trials per participant in all."""
    rng = np.random.default_rng(0)
    ids = [f"img{k:03d}" for k in range(n_images)]
    real = {i: rng.integers(0, 256, (8, 16, 3), dtype=np.uint8) for i in ids}
    variants = {
        "real": ("real", real),
        "crn": ("generated", {i: (a // 2).astype(np.uint8) for i, a in real.items()}),
        "pix2pix": ("generated", {i: (255 - a).astype(np.uint8) for i, a in real.items()}),
        "blurred": ("catch", {i: np.full_like(a, 128) for i, a in real.items()}),
    }
    for name, (kind, images) in variants.items():
        write_imageset(
            root / "sets" / name,
            name=name,
            kind=kind,
            source="bench",
            dataset="synthetic",
            split_sha256="0" * 64,
            split="test",
            size=(8, 16),
            images=sorted(images.items()),
        )
    doc = {
        "study": {
            "id": study_id,
            "title": "Load benchmark",
            "dataset": "synthetic",
            "trials_per_participant": trials - PRACTICE - CATCH,
            "seed": 0,
        },
        "sets": {name: f"sets/{name}" for name in variants},
        "comparisons": [
            {"id": "crn_vs_pix2pix", "a": "crn", "b": "pix2pix", "exposures": EXPOSURES},
            {"id": "crn_vs_real", "a": "crn", "b": "real", "exposures": EXPOSURES},
        ],
        "practice": {"trials": PRACTICE, "a": "real", "b": "blurred", "exposure": "unlimited"},
        "catch": {"trials": CATCH, "real": "real", "bad": "blurred", "exposure": "unlimited"},
        "platform": {"kind": "local", "completion_code": "BENCH"},
    }
    path = root / "study.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(toml: Path, db: str, key_file: Path, port: int, ns: argparse.Namespace):
    """`crnkit study serve` in its own process group; returns once every worker is up.

    Up means /api/health answers and every worker is forked: each binds its own SO_REUSEPORT
    socket right after the fork, so a load started earlier would put every connection on the
    workers already there.
    """
    cmd = [
        sys.executable, "-m", "crn.cli", "study", "serve", str(toml), "--db", db,
        "--key-file", str(key_file), "--port", str(port), "--workers", str(ns.workers),
        "--threads", str(ns.threads), f"--admin-token={secrets.token_urlsafe(16)}",
        "--enrol-pool", str(ns.enrol_pool),
        "--no-verify-images",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    wait_until_up(proc, f"http://127.0.0.1:{port}/api/health", "server")
    deadline = time.monotonic() + 30
    while len(server_cpu(proc.pid)) < ns.workers + 1:
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not start {ns.workers} workers within 30 s")
        time.sleep(0.05)
    return proc


def server_cpu(pid: int) -> dict[int, float]:
    """User + system CPU seconds of the gunicorn master `pid` and of each live worker, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            out[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_during(before: dict[int, float], after: dict[int, float]) -> list[float]:
    """CPU seconds each process spent between two `server_cpu` readings, largest first.

    Start-up (planning the enrolment pool, building each worker's app) is left out, and the
    split shows whether the workers shared the load.
    """
    spent = [after[pid] - before.get(pid, 0.0) for pid in after]
    return sorted((round(s, 2) for s in spent), reverse=True)


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group and wait for it."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def sim_config(shape: str, ns: argparse.Namespace, progress: bool) -> SimConfig:
    """The simulated participants of one load shape: no think time (closed) or paced."""
    paced = shape == "paced"
    return SimConfig(
        participants=ns.participants,
        concurrency=ns.concurrency,
        think_ms=ns.pace_ms if paced else 0.0,
        ramp_s=ns.ramp_s if paced else 0.0,
        seed=ns.seed,
        progress=progress,
        timeout_s=60.0,
    )


def run_psiturk(shape: str, ns: argparse.Namespace, tmp: Path) -> dict:
    """The same load against psiTurk 3.3.1's example server (see psiturk_reference.py)."""
    from psiturk_reference import psiturk_integrity, run_psiturk_load, start_psiturk

    root = tmp / f"psiturk-{shape}-{secrets.token_hex(3)}"
    root.mkdir(parents=True)
    port = free_port()
    proc = start_psiturk(Path(ns.psiturk_bin), root, port)
    try:
        config = sim_config(shape, ns, progress=False)
        load_before = os.getloadavg()[0]
        start = server_cpu(proc.pid)
        result = run_psiturk_load(port, ns.trials, config)
        cpu = sum(cpu_during(start, server_cpu(proc.pid)))
        load_after = os.getloadavg()[0]
    finally:
        stop_server(proc)
    summary = result.summary()
    return {
        "benchmark": "study_load",
        "shape": shape,
        "server": "psiturk-3.3.1 (its example, server defaults, SQLite)",
        "trials_per_participant": ns.trials,
        "concurrency": ns.concurrency,
        **summary,
        "server_cpu_s": round(cpu, 2),
        "server_cpu_ms_per_judgment": round(cpu / max(len(result.acked), 1) * 1000, 3),
        "loadavg_1min_before_after": [round(load_before, 2), round(load_after, 2)],
        "integrity": psiturk_integrity(root / "psiturk-example" / "participants.db", result),
    }


def run_shape(shape: str, ns: argparse.Namespace, tmp: Path) -> dict:
    """One load run on a fresh study; the figures and the integrity check as a dict."""
    study_id = f"bench-{shape}-{secrets.token_hex(3)}"
    root = tmp / study_id
    toml = write_study(root, study_id, ns.trials, ns.images)
    db = ns.db_url or str(root / "study.sqlite")
    # Several instances share the database and the key file, as servers on several hosts would.
    procs, urls = [], []
    try:
        for _ in range(ns.instances):
            port = free_port()
            procs.append(start_server(toml, db, root / "study-secret.key", port, ns))
            urls.append(f"http://127.0.0.1:{port}")
        config = sim_config(shape, ns, progress=ns.progress)
        load_before = os.getloadavg()[0]
        start = [server_cpu(proc.pid) for proc in procs]
        if ns.client == "lean":
            result = run_load(urls, config)
        else:
            if len(urls) > 1:
                raise SystemExit("--instances above 1 needs --client lean")
            result = simulate(urls[0], config)
        split = [cpu_during(a, server_cpu(p.pid)) for a, p in zip(start, procs, strict=True)]
        cpu = sum(map(sum, split))
        load_after = os.getloadavg()[0]
    finally:
        for proc in procs:
            stop_server(proc)
    engine = make_engine(sqlalchemy_url(db) if "://" in db else f"sqlite:///{db}")
    try:
        integrity = integrity_report(engine, study_id, result.acked)
    finally:
        engine.dispose()
    summary = result.summary()
    p99 = max(v["p99_ms"] for v in summary["latency"].values())
    if shape == "closed":
        met = summary["judgments_per_s"] >= 1100 and summary["latency"]["enrol"]["p99_ms"] < 500
    else:
        met = p99 < 50
    judgments = max(len(result.acked), 1)
    requests = max(sum(result.statuses.values()), 1)
    clean = integrity["ok"] and integrity["stored_equals_acknowledged"]
    return {
        "benchmark": "study_load",
        "shape": shape,
        "db": "postgresql" if ns.db_url else "sqlite",
        "instances": ns.instances,
        "workers": ns.workers,
        "enrol_pool": ns.enrol_pool,
        "threads": ns.threads,
        "trials_per_participant": ns.trials,
        "concurrency": ns.concurrency,
        **({"pace_ms": ns.pace_ms, "ramp_s": ns.ramp_s} if shape == "paced" else {}),
        **summary,
        "client": ns.client,
        "server_cpu_s": round(cpu, 2),
        "server_cpu_s_per_process": split if len(split) > 1 else split[0],
        "server_cpu_ms_per_judgment": round(cpu / judgments * 1000, 3),
        "client_cpu_ms_per_request": round(result.cpu_s / requests * 1000, 3),
        "cores": os.cpu_count(),
        "loadavg_1min_before_after": [round(load_before, 2), round(load_after, 2)],
        "max_p99_ms": p99,
        "integrity": integrity,
        "target": TARGETS[shape],
        "target_met": bool(met and clean and summary["responses_5xx"] == 0),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=None, help="default: participants")
    parser.add_argument("--trials", type=int, default=110, help="trials per participant, in all")
    parser.add_argument("--images", type=int, default=60, help="image ids per set")
    parser.add_argument("--shapes", default="closed,paced", help="closed, paced or both")
    parser.add_argument("--pace-ms", type=float, default=1000.0)
    parser.add_argument(
        "--ramp-s", type=float, default=10.0, help="paced participants arrive over this many s"
    )
    parser.add_argument(
        "--instances", type=int, default=1, help="server processes on separate ports, one DB"
    )
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="default: serve's (cores + 1)"
    )
    parser.add_argument(
        "--enrol-pool",
        type=int,
        default=0,
        help="serve --enrol-pool: participants planned ahead (closed: all arrive at once)",
    )
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help=f"default: serve's ({DEFAULT_THREADS})"
    )
    parser.add_argument("--db-url", default=None, help="a PostgreSQL URL instead of SQLite")
    parser.add_argument(
        "--start-postgres",
        action="store_true",
        help="start a throwaway PostgreSQL cluster (Debian's binaries, as the tests do) and use it",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--psiturk-bin",
        default=None,
        metavar="DIR",
        help="bin/ of a venv holding psiturk==3.3.1: run it first as the reference, same load",
    )
    parser.add_argument(
        "--client",
        choices=("lean", "httpx"),
        default="lean",
        help="load generator: benchmarks/lean_client.py or crnkit study simulate's httpx client",
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    ns = parser.parse_args(argv)
    ns.concurrency = ns.concurrency or ns.participants
    if ns.trials <= PRACTICE + CATCH:
        parser.error(f"--trials must exceed {PRACTICE + CATCH} (practice + catch)")
    return ns


def main(argv: list[str] | None = None) -> int:
    """Run the chosen shapes; print one JSON object per shape; exit 1 if a target was missed."""
    ns = parse_args(argv)
    cluster = None
    if ns.start_postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "study" / "ops"))
        from pg_cluster import start_cluster

        cluster = start_cluster({"fsync": "on"})
        ns.db_url = cluster.create_database()
    try:
        return _run_shapes(ns)
    finally:
        if cluster is not None:
            cluster.stop()


def _run_shapes(ns: argparse.Namespace) -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="crnkit-load-") as tmp:
        for shape in [s.strip() for s in ns.shapes.split(",") if s.strip()]:
            if shape not in TARGETS:
                raise SystemExit(f"unknown shape '{shape}' (expected closed or paced)")
            reference = run_psiturk(shape, ns, Path(tmp)) if ns.psiturk_bin else None
            if reference is not None:
                print(json.dumps(reference), flush=True)
            figures = run_shape(shape, ns, Path(tmp))
            # Only the closed loop compares rates: in the paced shape each client sets the rate.
            if shape == "closed" and reference is not None and reference["judgments_per_s"]:
                ratio = figures["judgments_per_s"] / reference["judgments_per_s"]
                figures["ratio_to_psiturk"] = round(ratio, 2)
            print(json.dumps(figures), flush=True)
            ok = ok and figures["target_met"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
