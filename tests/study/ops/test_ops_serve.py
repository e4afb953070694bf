"""`crnkit study serve`: gunicorn in-process, printed URLs and token, proxy headers, bad options."""

from __future__ import annotations

import re
import signal
import socket

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


def test_serve_on_a_busy_port_says_so_and_creates_nothing(study_toml, tmp_path, capsys):
    with socket.socket() as busy:
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
