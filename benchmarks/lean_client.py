"""A lean HTTP/1.1 load client for the study benchmark: asyncio streams, one keep-alive
connection per simulated participant, no HTTP library.

`crnkit study simulate` (httpx) spends about 1 ms of CPU per request, as much as the server
spends answering it; on a 2-core machine that shares the cores with the server, the load
generator then caps the figure it measures. This client does the same conversation (enrol,
answer each trial with a plausible body until done, report focus losses) for about a
quarter of that, so that the benchmark measures the server. Answers and timings are recorded
in a `study.simulate.SimResult`, which the integrity check reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from urllib.parse import urlencode, urlsplit

import httpx

from study.simulate import SimConfig, SimResult, answer_body, decide, make_person

RETRYABLE = (502, 503, 504)


class Connection:
    """One keep-alive HTTP/1.1 connection that reconnects after a failure."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: object, token: str | None, form: bool = False
    ):
        """(status, parsed JSON body) of one request; raises OSError/IncompleteReadError.

        With `form`, `body` is sent form-encoded and the reply comes back as raw bytes.
        """
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        if form:
            data = urlencode(body or {}).encode()
        else:
            data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(data)}\r\n"
        if form:
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
        elif body is not None:
            head += "Content-Type: application/json\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        self.writer.write(head.encode() + b"User-Agent: crnkit-bench/1\r\n\r\n" + data)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        if form:
            return status, payload
        return status, json.loads(payload) if payload else None

    def close(self) -> None:
        """Drop the connection; the next request opens a new one."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def call(conn, result, name, method, path, body, token, retry_until, form=False):
    """(status, body) of one request, retried on 502/503/504 and connection errors.

    Latencies, statuses, errors and retries go into `result` under `name`; raises TimeoutError
    once `retry_until` (a time.monotonic() value) has passed.
    """
    while True:
        started = time.perf_counter()
        try:
            status, data = await conn.request(method, path, body, token, form=form)
        except (OSError, asyncio.IncompleteReadError, ValueError) as err:
            conn.close()
            result.errors[type(err).__name__] += 1
        else:
            result.latencies[name].append(time.perf_counter() - started)
            result.statuses[status] += 1
            if status not in RETRYABLE:
                return status, data
        if time.monotonic() > retry_until:
            raise TimeoutError(f"{name}: no answer in time")
        result.retries += 1
        await asyncio.sleep(0.05)


def wait_until_up(proc, url: str, what: str, timeout_s: float = 60.0):
    """Return `proc` once GET `url` answers 200; kill its process group after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit(f"{what} did not start within {timeout_s:.0f} s")


async def _participant(index: int, host: str, port: int, config: SimConfig, result: SimResult):
    person = make_person(config, index)
    think = config.think_ms / 1000.0
    if config.ramp_s or think:
        await asyncio.sleep(person.rng.uniform(0.0, config.ramp_s or think))
    conn = Connection(host, port)
    retry = config.retry_for_s
    try:
        body = {"params": {}, "window_w": person.window[0], "window_h": person.window[1]}
        status, enrolled = await call(
            conn, result, "enrol", "POST", "/api/enrol", body, None, time.monotonic() + retry
        )
        if status not in (200, 201):
            result.errors[f"enrol_{status}"] += 1
            return
        token, state, pid = enrolled["token"], enrolled["state"], enrolled["participant_id"]
        result.participants += 1
        next_at = time.monotonic() + think
        while not state["done"]:
            trial = state["next"]
            if think:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at + think, time.monotonic())
            answer = answer_body(person, trial, decide(person, trial, None, config))
            path = f"/api/trials/{trial['id']}/answer"
            status, state = await call(
                conn, result, "answer", "POST", path, answer, token, time.monotonic() + retry
            )
            if status != 200:
                result.errors[f"answer_{status}"] += 1
                return
            result.acked.append((pid, int(trial["id"]), answer["choice"]))
            if answer["focus_lost"]:
                event = {"events": [{"type": "focus_lost", "trial_id": trial["id"]}]}
                until = time.monotonic() + retry
                await call(conn, result, "events", "POST", "/api/events", event, token, until)
        result.finished += 1
    except TimeoutError:
        result.errors["gave_up"] += 1
    finally:
        conn.close()


async def _run(base_urls: list[str], config: SimConfig, result: SimResult) -> None:
    servers = [urlsplit(url) for url in base_urls]
    sem = asyncio.Semaphore(config.concurrency)

    async def one(index: int) -> None:
        server = servers[index % len(servers)]  # round robin, as a load balancer would
        async with sem:
            await _participant(index, server.hostname, server.port or 80, config, result)

    await asyncio.gather(*(one(i) for i in range(config.participants)))


def run_load(base_urls: str | list[str], config: SimConfig) -> SimResult:
    """Run `config.participants` participants against the server(s); wall and CPU recorded."""
    urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
    result = SimResult()
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_run(urls, config, result))
    result.wall_s = time.perf_counter() - wall
    result.cpu_s = time.process_time() - cpu
    return result
