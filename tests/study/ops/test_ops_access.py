"""Access: image paths cannot leave the sets, body limits, participant tokens, others' trials."""

from __future__ import annotations

import shutil

import pytest
from ops_helpers import answer_body, participate

from crn.errors import UserError
from study.app import runtime

TRAVERSALS = [
    "/img/../study.toml",
    "/img/..%2fstudy.toml",
    "/img/%2e%2e%2f%2e%2e%2fstudy.toml",
    "/img/%2e%2e/%2e%2e/etc/passwd",
    "/img//etc/passwd",
    "/img/%2Fetc%2Fpasswd",
    "/img/sets%2Freal%2Fimages%2Fimg00.png",
    "/img/real/img00",
    "/img/" + "0" * 32,
    "/img/",
    "/static/../study.toml",
    "/static/..%2fapp.py",
    "/static/%2e%2e/db.py",
    "/static//etc/passwd",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_paths_outside_the_image_sets_are_404(ops_client, url):
    response = ops_client.get(url, follow_redirects=True)
    assert response.status_code == 404, url
    assert b"root:" not in response.data and b"[study]" not in response.data


def test_only_files_listed_in_the_study_sets_are_served(ops_app, image_sets):
    # A PNG dropped into a set folder without being listed must not become reachable.
    extra = image_sets["crn"] / "images" / "unlisted.png"
    shutil.copy(image_sets["crn"] / "images" / "img00.png", extra)
    rt = runtime(ops_app)
    served = {path.resolve() for path in rt.images.paths.values()}
    listed = {
        (rt.spec.sets[name] / rel).resolve()
        for name, iset in rt.sets.sets.items()
        for rel in iset.images.values()
    }
    assert served == listed and extra.resolve() not in served
    client = ops_app.test_client()
    for key in list(rt.images.paths)[:3]:
        response = client.get(f"/img/{key}")
        assert response.status_code == 200
        response.close()


def test_a_symlink_out_of_the_set_folder_is_never_served(ops_factory, image_sets, tmp_path):
    images = image_sets["pix2pix"] / "images"
    outside = tmp_path / "outside.png"
    shutil.move(images / "img03.png", outside)  # same bytes, so the recorded sha256 matches
    (images / "img03.png").symlink_to(outside)
    try:
        app = ops_factory(name="symlinked")
    except UserError as err:  # refusing the set at start is as good as a 404
        assert "img03" in str(err) or "symlink" in str(err)
        return
    rt = runtime(app)
    key = rt.images.keys.get(("pix2pix", "img03"))
    if key is not None:
        response = app.test_client().get(f"/img/{key}")
        status = response.status_code
        response.close()
        assert status == 404


@pytest.mark.parametrize("url", ["/api/enrol", "/api/trials/1/answer", "/api/events"])
def test_oversized_bodies_are_413_json(ops_client, url):
    headers = participate(ops_client, stop_after=0)["headers"]
    big = b'{"params": {"x": "' + b"a" * 200_000 + b'"}}'
    response = ops_client.post(url, data=big, content_type="application/json", headers=headers)
    assert response.status_code == 413
    assert "too large" in response.get_json()["error"]


def test_oversized_admin_post_is_413(ops_client, admin_headers):
    big = b'{"action": "' + b"a" * 200_000 + b'"}'
    response = ops_client.post(
        "/admin/status", data=big, content_type="application/json", headers=admin_headers
    )
    assert response.status_code == 413
    assert ops_client.get("/api/health").get_json()["status"] == "open"


@pytest.mark.parametrize(
    "auth", [None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 43]
)
def test_missing_or_invalid_participant_tokens_are_401(ops_client, auth):
    participate(ops_client, stop_after=1)
    headers = {} if auth is None else {"Authorization": auth}
    body = answer_body({"exposure_ms": None})
    for method, url, json in [
        ("GET", "/api/state", None),
        ("POST", "/api/trials/2/answer", body),
        ("POST", "/api/events", {"events": [{"type": "focus_lost"}]}),
    ]:
        response = ops_client.open(url, method=method, json=json, headers=headers)
        assert response.status_code == 401, (url, auth)
        assert response.get_json()["error"]


def test_another_participants_trial_is_403_and_unchanged(ops_client):
    alice = participate(ops_client, stop_after=1)
    bob = participate(ops_client, stop_after=1)
    trial = bob["state"]["next"]
    body = answer_body(trial)
    response = ops_client.post(
        f"/api/trials/{trial['id']}/answer", json=body, headers=alice["headers"]
    )
    assert response.status_code == 403
    bob_state = ops_client.get("/api/state", headers=bob["headers"]).get_json()
    assert bob_state["answered"] == 1 and bob_state["next"]["id"] == trial["id"]
