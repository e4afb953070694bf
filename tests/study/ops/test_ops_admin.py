"""Admin pages: token required everywhere, login cookie, progress, status changes, downloads."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
from ops_helpers import ADMIN_TOKEN, participate

from crnkit_common.proportions import crossed_proportion
from study.admin import COOKIE


def _admin_urls(app) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                urls.append((method, rule.rule))
    return urls


def test_every_admin_url_needs_the_token(ops_app):
    client = ops_app.test_client()
    urls = _admin_urls(ops_app)
    assert ("GET", "/admin/export/responses.csv") in urls and ("POST", "/admin/status") in urls
    for method, url in urls:
        if url == "/admin/login":
            continue
        missing = client.open(url, method=method, data={"action": "close"})
        assert missing.status_code == 401, (method, url)
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        for bad in ("Bearer wrong", f"Bearer {ADMIN_TOKEN}x", f"Basic {ADMIN_TOKEN}", "Bearer"):
            wrong = client.open(url, method=method, headers={"Authorization": bad})
            assert wrong.status_code == 403, (method, url, bad)
        forged = client.open(url, method=method)
        assert forged.status_code == 401
    client.set_cookie(COOKIE, "forged-value", path="/admin")
    assert client.get("/admin/").status_code == 403
    assert client.get("/api/health").get_json()["status"] == "open"


def test_admin_is_disabled_without_a_configured_token(ops_factory):
    app = ops_factory(admin_token=None)
    client = app.test_client()
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/", headers={"Authorization": "Bearer "}).status_code == 403
    assert client.post("/admin/login", data={"token": ""}).status_code == 403


def test_login_form_sets_a_strict_httponly_cookie_and_csrf_guards_posts(ops_client):
    assert ops_client.get("/admin/login").status_code == 401
    assert ops_client.post("/admin/login", data={"token": "nope"}).status_code == 403
    response = ops_client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert ADMIN_TOKEN not in cookie
    page = ops_client.get("/admin/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b"fixture-study" in page.data
    csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', page.data).group(1).decode()
    refused = ops_client.post("/admin/status", data={"action": "pause"})
    assert refused.status_code == 403
    assert ops_client.get("/api/health").get_json()["status"] == "open"
    paused = ops_client.post("/admin/status", data={"action": "pause", "csrf": csrf})
    assert paused.status_code == 303
    assert ops_client.get("/api/health").get_json()["status"] == "paused"
    ops_client.post("/admin/logout", data={"csrf": csrf})
    assert ops_client.get("/admin/").status_code == 401


@pytest.mark.parametrize("action,status", [("pause", "paused"), ("close", "closed")])
def test_paused_or_closed_study_refuses_newcomers_and_reopen_admits(
    ops_client, admin_headers, action, status
):
    earlier = participate(ops_client, stop_after=2)
    changed = ops_client.post("/admin/status", json={"action": action}, headers=admin_headers)
    assert changed.status_code == 200 and changed.get_json()["status"] == status
    refused = ops_client.post("/api/enrol", json={"params": {}})
    assert refused.status_code == 403 and status in refused.get_json()["error"]
    # Whoever already started may finish.
    state = ops_client.get("/api/state", headers=earlier["headers"])
    assert state.status_code == 200 and state.get_json()["answered"] == 2
    page = ops_client.get("/admin/", headers=admin_headers)
    assert f"status-{status}".encode() in page.data
    reopened = ops_client.post("/admin/status", json={"action": "reopen"}, headers=admin_headers)
    assert reopened.get_json()["status"] == "open"
    assert ops_client.post("/api/enrol", json={"params": {}}).status_code == 201
    bad = ops_client.post("/admin/status", json={"action": "delete"}, headers=admin_headers)
    assert bad.status_code == 422 and "pause" in bad.get_json()["error"]


def test_progress_counts_and_rates_match_the_answers(ops_client, admin_headers):
    participate(ops_client)
    participate(ops_client, stop_after=4)
    progress = ops_client.get("/admin/api/progress", headers=admin_headers).get_json()
    assert progress["participants"] == {"started": 1, "finished": 1, "total": 2}
    assert progress["responses"] == 20
    export = ops_client.get("/admin/export/responses.csv", headers=admin_headers)
    rows = list(csv.DictReader(io.StringIO(export.data.decode())))
    assert len(rows) == 20
    checked = 0
    for cell in progress["cells"]:
        mine = [
            r
            for r in rows
            if (r["kind"], r["comparison"], r["exposure"])
            == (cell["kind"], cell["comparison"], cell["exposure"])
        ]
        assert cell["answered"] == len(mine)
        assert cell["chose_a"] == sum(r["chosen_method"] == r["method_a"] for r in mine)
        if mine:
            assert cell["rate"] == pytest.approx(cell["chose_a"] / len(mine))
            people = [r["participant_id"] for r in mine]
            images = [r["image_id"] for r in mine]
            if len(set(people)) < 2 or len(set(images)) < 2:
                assert cell["ci_low"] is None and cell["ci_high"] is None
                continue
            # The live interval is the report's crossed participant x image interval.
            y = [float(r["chosen_method"] == r["method_a"]) for r in mine]
            est = crossed_proportion(np.array(y), np.array(people), np.array(images))
            assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((est.lo, est.hi))
            checked += 1
        else:
            assert cell["rate"] is None
    assert checked >= 1


def test_downloads_are_attachments_and_match_the_cli_export(ops_client, admin_headers):
    participate(ops_client, stop_after=6)
    for name, kind in [
        ("responses.csv", "text/csv"),
        ("participants.csv", "text/csv"),
        ("study.json", "application/json"),
    ]:
        response = ops_client.get(f"/admin/export/{name}", headers=admin_headers)
        assert response.status_code == 200 and response.mimetype == kind
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert response.headers["Cache-Control"] == "no-store"
        assert response.data
        response.close()
    participants = ops_client.get("/admin/export/participants.csv", headers=admin_headers)
    (row,) = csv.DictReader(io.StringIO(participants.data.decode()))
    assert row["trials_answered"] == "6" and row["status"] == "started"
    study = ops_client.get("/admin/export/study.json", headers=admin_headers).get_json()
    assert study["study_id"] == "fixture-study"
