"""Security headers, CSP without inline script, escaping, and worker ids never kept in clear."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from ops_helpers import ADMIN_TOKEN, participate

from crn.cli import main as crnkit
from study.app import runtime

MTURK = ("https://www.mturk.com", "https://workersandbox.mturk.com")


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


class _Inline(HTMLParser):
    """Collects inline scripts, event-handler attributes and style attributes of a page."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.problems.append(f"inline <script {attrs}>")
        self.problems += [f"{tag} {k}=" for k in names if k.startswith("on") or k == "style"]


def _inline_problems(html: str) -> list[str]:
    parser = _Inline()
    parser.feed(html)
    return parser.problems


@pytest.mark.parametrize("url", ["/", "/api/health", "/api/no-such-route", "/admin/"])
def test_every_response_carries_the_security_headers(ops_client, url):
    response = ops_client.get(url)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["style-src"] and "'unsafe-eval'" not in csp["default-src"]
    if url.startswith("/admin"):
        assert csp["frame-ancestors"] == ["'none'"]
    else:
        assert csp["frame-ancestors"] == ["'self'", *MTURK]
    assert "X-Frame-Options" not in response.headers  # would break MTurk's iframe


def test_images_carry_the_headers_too(ops_client):
    state = participate(ops_client, stop_after=0)["state"]
    image = ops_client.get(state["next"]["left"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    image.close()


@pytest.mark.parametrize("kind", ["local", "prolific", "mturk"])
def test_participant_pages_have_no_inline_script_or_style(ops_factory, kind):
    params = {
        "local": "",
        "prolific": "?PROLIFIC_PID=abc&STUDY_ID=s&SESSION_ID=x",
        "mturk": "?workerId=W1&assignmentId=A1&hitId=H1"
        "&turkSubmitTo=https%3A%2F%2Fworkersandbox.mturk.com",
    }[kind]
    platform = {"kind": kind, "completion_code": "C0DE", "mturk_sandbox": kind == "mturk"}
    app = ops_factory(name=kind, platform=platform)
    page = app.test_client().get("/" + params)
    assert page.status_code == 200
    assert _inline_problems(page.data.decode()) == []
    for url in re.findall(r'src="([^"]+)"', page.data.decode()):
        assert url.startswith("/"), url  # same origin only


def test_script_in_titles_and_worker_ids_is_escaped(ops_factory):
    evil = "<script>alert(1)</script>"
    app = ops_factory(
        study={"title": f"Title {evil}", "instructions": f"Do {evil}"},
        platform={"kind": "prolific", "completion_code": "C0DE"},
    )
    client = app.test_client()
    query = {"PROLIFIC_PID": evil, "STUDY_ID": "s", "SESSION_ID": evil}
    page = client.get("/", query_string=query)
    admin = client.get("/admin/", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    enrolled = client.post("/api/enrol", json={"params": query})
    assert enrolled.status_code < 500
    for response in (page, admin, enrolled):
        assert b"<script>alert" not in response.data
    assert "&lt;script&gt;" in admin.data.decode()


def _grep(paths: list[Path], needle: bytes) -> list[str]:
    return [str(p) for p in paths if p.is_file() and needle in p.read_bytes()]


def test_worker_ids_never_stored_or_exported_in_clear(tmp_path, image_sets, live_server):
    from study_helpers import study_document, write_study_toml

    doc = study_document(image_sets, tmp_path)
    doc["platform"] = {"kind": "mturk", "completion_code": "C0DE"}
    toml = write_study_toml(tmp_path / "mturk.toml", doc)
    db = tmp_path / "mturk.sqlite"
    server = live_server(toml, db)
    worker, assignment = "A3WORKERSECRET7Q", "ASSIGNMENTX9"
    params = {
        "workerId": worker,
        "assignmentId": assignment,
        "hitId": "HIT1",
        "turkSubmitTo": "https://www.mturk.com",
    }
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/", params=params).status_code == 200
        enrolled = http.post("/api/enrol", json={"params": params})
        assert enrolled.status_code == 201
        again = http.post("/api/enrol", json={"params": params})
        assert again.status_code == 200 and again.json()["resumed"] is True
    out = tmp_path / "export" / "responses.csv"
    parts = tmp_path / "export" / "participants.csv"
    args = ["study", "export", "--db", str(db), "--out", str(out), "--participants", str(parts)]
    assert crnkit(args) == 0
    files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), out, parts, out.with_name("study.json")]
    files.append(server.log)
    assert _grep(files, worker.encode()) == []
    assert _grep(files, worker.lower().encode()) == []


def test_secret_key_file_is_private(ops_app):
    key_file = runtime(ops_app).key_file
    assert key_file.stat().st_mode & 0o077 == 0
