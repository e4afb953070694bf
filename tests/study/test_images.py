"""Images behind opaque keys: only listed files, no method names in URLs, long cache headers."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from crn.errors import UserError
from study.app import create_app, runtime
from study.imageindex import ImageIndex, image_key


def test_image_route_serves_listed_files_with_long_cache(app, client, image_sets):
    """Each key serves exactly the file listed in its image set, cacheable for a year."""
    rt = runtime(app)
    key = rt.images.keys[("crn", "img04")]
    with client.get(f"/img/{key}") as reply:
        assert reply.status_code == 200 and reply.mimetype == "image/png"
        assert reply.data == (image_sets["crn"] / "images" / "img04.png").read_bytes()
        assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert reply.headers.get("ETag")
    with client.get(f"/img/{key}", headers={"If-None-Match": reply.headers["ETag"]}) as again:
        assert again.status_code == 304


def test_image_headers_carry_nothing_that_depends_on_the_set(app, client, image_sets):
    """No Last-Modified, and an ETag from the content: file times and paths cannot leak a set."""
    rt = runtime(app)
    keys = [rt.images.keys[(name, "img04")] for name in ("real", "crn")]
    os.utime(image_sets["real"] / "images" / "img04.png", (1_000_000_000, 1_000_000_000))
    os.utime(image_sets["crn"] / "images" / "img04.png", (1_700_000_000, 1_700_000_000))
    seen = []
    for key in keys:
        with client.get(f"/img/{key}") as reply:
            assert "Last-Modified" not in reply.headers
            assert reply.headers["ETag"] == f'"{hashlib.sha256(reply.data).hexdigest()[:32]}"'
            seen.append(
                {
                    k: v
                    for k, v in reply.headers.items()
                    if k not in ("ETag", "Content-Security-Policy")
                }
            )
    lengths = [h.pop("Content-Length") for h in seen]
    assert seen[0] == seen[1] and all(int(n) > 0 for n in lengths)
    # Touching a file changes none of its headers.
    before = client.get(f"/img/{keys[1]}").headers.get("ETag")
    os.utime(image_sets["crn"] / "images" / "img04.png", (1_800_000_000, 1_800_000_000))
    assert client.get(f"/img/{keys[1]}").headers.get("ETag") == before


def test_unknown_keys_and_paths_are_404(client):
    """Made-up keys and path tricks are 404 JSON errors."""
    for path in ("/img/0000", "/img/crn", "/img/..%2F..%2Fstudy.toml", "/img/../study.toml"):
        reply = client.get(path)
        assert reply.status_code == 404, path
        assert reply.json["error"]


def test_only_listed_files_are_indexed(app, image_sets):
    """An extra file dropped into a set folder gets no key."""
    rt = runtime(app)
    listed = {rt.sets.sets[name].path(i) for name, i in rt.images.keys}
    assert set(rt.images.paths.values()) == listed
    assert len(listed) == 4 * 12


def test_urls_do_not_reveal_methods(client):
    """Trial image URLs hold neither set names nor image ids."""
    reply = client.post("/api/enrol", json={"params": {}})
    trial = reply.json["state"]["next"]
    for url in (trial["left"], trial["right"]):
        assert url.startswith("img/") and len(url) == 4 + 32
        for word in ("real", "crn", "pix2pix", "blurred", "img0", "img1"):
            assert word not in url


def test_keys_depend_on_secret_and_study():
    """Keys differ between studies and secrets, and are stable for the same inputs."""
    a = image_key(b"k" * 32, "study-a", "crn", "img01")
    assert a == image_key(b"k" * 32, "study-a", "crn", "img01")
    assert a != image_key(b"k" * 32, "study-b", "crn", "img01")
    assert a != image_key(b"j" * 32, "study-a", "crn", "img01")
    assert a != image_key(b"k" * 32, "study-a", "pix2pix", "img01")


def test_keys_are_stable_across_restarts(tmp_path, study_toml):
    """The same key file gives the same URLs after a restart (browser caches stay valid)."""
    config = {"spec_path": study_toml, "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    first = create_app(config)
    second = create_app(config)
    assert dict(runtime(first).images.keys) == dict(runtime(second).images.keys)
    for app in (first, second):
        runtime(app).engine.dispose()


def test_index_url():
    """ImageIndex.url is relative to the app root."""
    index = ImageIndex(paths={}, keys={("crn", "x"): "ab" * 16})
    assert index.url("crn", "x") == "img/" + "ab" * 16


def test_symlinked_image_outside_its_set_is_refused_at_start(tmp_path, study_toml, image_sets):
    """A listed file that is a symlink leading out of the set folder stops the server at start."""
    images = image_sets["pix2pix"] / "images"
    shutil.move(images / "img03.png", tmp_path / "outside.png")
    (images / "img03.png").symlink_to(tmp_path / "outside.png")
    config = {"spec_path": study_toml, "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    with pytest.raises(UserError, match=r"outside their set folder.*pix2pix/img03"):
        create_app(config)
