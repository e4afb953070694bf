"""`crnkit study serve`: gunicorn in-process, printed URLs and token, proxy headers, bad options."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from crn.cli import main as crnkit


def test_serve_prints_urls_and_a_stored_token_that_works(
    study_toml, tmp_path, live_server, private_secrets_dir
):
    server = live_server(study_toml, tmp_path / "s.sqlite", extra=("--admin-token", ""))
    out = server.output()
    assert f"participants: {server.url}/" in out and f"admin:        {server.url}/admin/" in out
    token = re.search(r"admin token:\s+(\S+)\s+\(kept in (\S+);", out).group(1)
    assert len(token) >= 32
    token_file = private_secrets_dir / "fixture-study.admin-token"
    assert f"kept in {token_file}" in out and token_file.stat().st_mode & 0o077 == 0
    assert f"key file:     {private_secrets_dir / 'study.key'}" in out
    health = httpx.get(f"{server.url}/api/health")
    assert health.headers["Server"].startswith("gunicorn")  # not Flask's development server
    assert health.json() == {"ok": True, "study_id": "fixture-study", "status": "open"}
    assert httpx.get(f"{server.url}/admin/api/progress").status_code == 401
    progress = httpx.get(
        f"{server.url}/admin/api/progress", headers={"Authorization": f"Bearer {token}"}
    )
    assert progress.status_code == 200 and progress.json()["study_id"] == "fixture-study"
    # Proxy headers are not trusted without --trust-proxy.
    spoofed = httpx.get(f"{server.url}/api/health", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers
    assert (private_secrets_dir / "study.key").stat().st_mode & 0o077 == 0
    assert not list(tmp_path.glob("*.key"))  # no secret in the project folder
    # A restart keeps the token, so bookmarks and scripts go on working.
    server.kill(signal.SIGTERM)
    again = live_server(study_toml, tmp_path / "s.sqlite", extra=("--admin-token", ""))
    assert f"admin token:  {token}  (kept in" in again.output()


# A running `crnkit study serve` listens with SO_REUSEPORT: a second server must still be refused
# the port rather than join it and take half of the first one's participants.
@pytest.mark.parametrize("reuse_port", [False, True])
def test_serve_on_a_busy_port_says_so_and_creates_nothing(study_toml, tmp_path, capsys, reuse_port):
    with socket.socket() as busy:
        if reuse_port:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        db = tmp_path / "never.sqlite"
        args = ["study", "serve", str(study_toml), "--db", str(db), "--port", str(port)]
        assert crnkit(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        f"crnkit study: error: port {port} is in use on 127.0.0.1; pass --port"
    ]
    assert not db.exists() and not list(tmp_path.glob("*.key"))


def test_serve_with_public_url_prints_platform_snippets_and_trusts_the_proxy(
    study_toml, tmp_path, live_server, monkeypatch
):
    monkeypatch.setenv("CRNKIT_STUDY_ADMIN_TOKEN", "token-from-the-environment")
    public = "https://study.example.org"
    server = live_server(
        study_toml,
        tmp_path / "p.sqlite",
        extra=("--admin-token", "", "--public-url", public, "--trust-proxy"),
    )
    out = server.output()
    assert f"participants: {public}/" in out
    assert "admin token:  token-from-the-environment" in out and "generated" not in out
    assert (
        f"{public}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}"
        "&SESSION_ID={{%SESSION_ID%}}" in out
    )
    assert f"<ExternalURL>{public}/</ExternalURL>" in out and "<ExternalQuestion" in out
    behind_tls = httpx.get(f"{server.url}/api/health", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--public-url", "http://plain.example.org"], "--public-url"),
        (["--port", "0"], "--port"),
        (["--workers", "0"], "--workers"),
        (["--admin-token", "short"], "at least 16"),
    ],
)
def test_bad_serve_options_are_one_clear_line(study_toml, tmp_path, capsys, extra, needle):
    args = ["study", "serve", str(study_toml), "--db", str(tmp_path / "x.sqlite"), *extra]
    assert crnkit(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.sqlite").exists()


def test_serve_refuses_a_missing_spec(tmp_path, capsys):
    assert crnkit(["study", "serve", str(tmp_path / "none.toml")]) == 2
    assert "none.toml" in capsys.readouterr().err


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # an fd closed while we look
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes


def _tcp_sockets(pid: int, port: int, state: str) -> int:
    """Sockets on local `port` in TCP `state` (01 established, 0A listening) held by `pid`."""
    inodes = _socket_inodes(pid)
    rows = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    return sum(
        int(f[1].split(":")[1], 16) == port and f[3] == state and f[9] in inodes for f in rows
    )


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_keepalive_connections_are_spread_over_the_workers(study_toml, tmp_path, live_server):
    server = live_server(study_toml, tmp_path / "w.sqlite", extra=("--workers", "2"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the second worker may still be binding its socket
        workers = _worker_pids(server.proc.pid)
        if len(workers) == 2 and all(_tcp_sockets(pid, server.port, "0A") for pid in workers):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"two listening workers expected, found {workers}")
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
    try:
        request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
        for client in clients:
            client.sendall(request)
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        held = [_tcp_sockets(pid, server.port, "01") for pid in workers]
    finally:
        for client in clients:
            client.close()
    # The kernel hashes connections over the workers' sockets: 40 split 20/20 on average, and
    # fewer than 8 on either side has a chance of about 1 in 24,000.
    assert sum(held) == 40 and min(held) >= 8, held


def test_serve_defaults_to_a_worker_per_core_plus_one_and_per_worker_sockets():
    from study.commands.serve import ServeOptions, default_workers, gunicorn_settings

    assert default_workers() == len(os.sched_getaffinity(0)) + 1
    settings = gunicorn_settings(ServeOptions("127.0.0.1", 8000, 3, 2))
    assert settings["reuse_port"] is True and (settings["workers"], settings["threads"]) == (3, 2)
