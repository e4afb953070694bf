"""Helpers of the study-ops tests: answering whole participations and running a live server."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ADMIN_TOKEN = "ops-admin-token-0123456789"


def answer_body(trial: dict, choice: str = "left") -> dict:
    """A valid answer to `trial` (timed trials get a measured exposure equal to the target)."""
    body = {
        "choice": choice,
        "response_ms": 900.0 + (trial["exposure_ms"] or 0),
        "frame_ms": 16.7,
        "dpr": 1.0,
        "window_w": 1280,
        "window_h": 800,
        "focus_lost": False,
    }
    if trial["exposure_ms"] is not None:
        body["exposure_ms_measured"] = float(trial["exposure_ms"])
    return body


def enrol(client, params: dict | None = None) -> dict:
    """Enrol one participant through the Flask test client; the enrolment JSON."""
    response = client.post("/api/enrol", json={"params": params or {}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def participate(client, params: dict | None = None, stop_after: int | None = None) -> dict:
    """Enrol and answer (alternating left/right) until done or `stop_after` answers."""
    enrolled = enrol(client, params)
    headers = {"Authorization": f"Bearer {enrolled['token']}"}
    state, answered = enrolled["state"], 0
    while not state["done"] and (stop_after is None or answered < stop_after):
        trial = state["next"]
        body = answer_body(trial, "left" if answered % 2 == 0 else "right")
        response = client.post(f"/api/trials/{trial['id']}/answer", json=body, headers=headers)
        assert response.status_code == 200, response.get_json()
        state, answered = response.get_json(), answered + 1
    return {**enrolled, "headers": headers, "state": state, "answered": answered}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A `crnkit study serve` process in its own process group."""

    proc: subprocess.Popen
    port: int
    log: Path
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until /api/health answers 200 (fail if the process exits first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.output()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (master and workers) and reap the master."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)
        _wait_group_gone(self.proc.pid)


def _wait_group_gone(pgid: int, timeout: float = 10.0) -> None:
    # Orphaned workers notice their master is gone within a second or so; wait for the port.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(pgid, signal.SIGKILL)


def start_server(
    toml: Path, db: Path | str, *, port: int | None = None, extra: tuple[str, ...] = ()
) -> LiveServer:
    """Start `crnkit study serve` (1 worker, 4 threads unless `extra` says otherwise)."""
    port = port or free_port()
    args = [
        sys.executable, "-m", "crn.cli", "study", "serve", str(toml), "--db", str(db),
        "--port", str(port), "--workers", "1", "--threads", "4", *extra,
    ]  # fmt: skip
    if "--admin-token" not in extra:
        args += ["--admin-token", ADMIN_TOKEN]
    log = Path(toml).parent / f"serve-{port}-{secrets.token_hex(2)}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(proc, port, log, args)
    server.wait_ready()
    return server
