"""The app factory: configuration, start-up checks (edited spec, changed sets, key file), pages."""

from __future__ import annotations

import json
import os
import re
import stat

import numpy as np
import pytest
from sqlalchemy import text

from crn.errors import UserError
from crn.imageset import write_imageset
from study.app import create_app, runtime
from study.config import ServerConfig


def config_for(tmp_path, spec, **extra) -> dict:
    """A test_config dict over a SQLite file in tmp_path."""
    return {"spec_path": spec, "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}", **extra}


def start(config) -> None:
    """Create an app and release its engine (for start-up checks)."""
    app = create_app(config)
    runtime(app).engine.dispose()


def test_nothing_happens_at_import():
    """Importing the app modules creates no app, engine or config."""
    import study.api
    import study.app
    import study.pages

    for module in (study.app, study.api, study.pages):
        names = vars(module).values()
        assert not any(type(v).__name__ in ("Flask", "Engine", "ServerConfig") for v in names)


def test_app_holds_runtime_and_limits(app):
    """The factory stores config, engine and spec; body size is limited; the study row exists."""
    rt = runtime(app)
    assert rt.study_id == "fixture-study" and rt.config.admin_token == "admin-test-token"
    assert app.config["MAX_CONTENT_LENGTH"] == rt.config.max_body_bytes == 64 * 1024
    with rt.engine.connect() as conn:
        row = conn.execute(text("SELECT id, spec_sha256, status FROM study")).one()
    assert row == ("fixture-study", rt.spec.sha256, "open")
    assert {"pages", "api", "images"} <= set(app.blueprints)


def test_edited_spec_is_refused(tmp_path, study_toml):
    """Serving an edited study.toml under the same study id fails with a clear message."""
    start(config_for(tmp_path, study_toml))
    start(config_for(tmp_path, study_toml))  # the same spec starts again
    study_toml.write_text(study_toml.read_text().replace("Which image", "What image"))
    with pytest.raises(UserError, match=r"different study.toml.*new \[study\] id"):
        start(config_for(tmp_path, study_toml))
    renamed = study_toml.read_text().replace('id = "fixture-study"', 'id = "fixture-study-2"')
    study_toml.write_text(renamed)
    start(config_for(tmp_path, study_toml))


def test_changed_image_set_is_refused(tmp_path, study_toml, image_sets):
    """Images replaced under a running study id are refused at start."""
    start(config_for(tmp_path, study_toml))
    rng = np.random.default_rng(5)
    write_imageset(
        image_sets["crn"],
        name="crn",
        kind="generated",
        source="other",
        dataset="synthetic",
        split_sha256="0" * 64,
        split="test",
        size=(8, 16),
        images=[
            (f"img{k:02d}", rng.integers(0, 256, (8, 16, 3), dtype=np.uint8)) for k in range(12)
        ],
    )
    with pytest.raises(UserError, match=r"other images in set.*crn"):
        start(config_for(tmp_path, study_toml))


def test_tampered_image_fails_verification(tmp_path, study_toml, image_sets):
    """An image file that no longer matches its sha256 stops the server at start."""
    path = image_sets["real"] / "images" / "img03.png"
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(UserError, match=r"img03\.png does not match"):
        start(config_for(tmp_path, study_toml))


def test_key_file_created_private_and_reused(tmp_path, study_toml, private_secrets_dir):
    """The key file is 32 random bytes, mode 0600, in the secrets folder, created once."""
    start(config_for(tmp_path, study_toml))
    key_path = private_secrets_dir / "study.key"
    key = key_path.read_bytes()
    assert len(key) == 32 and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(private_secrets_dir.stat().st_mode) == 0o700
    assert (private_secrets_dir / ".gitignore").read_text().splitlines()[-1] == "*"
    assert not (tmp_path / "study-secret.key").exists()  # nothing in the working tree
    app = create_app(config_for(tmp_path, study_toml))
    assert runtime(app).secret == key
    runtime(app).engine.dispose()
    os.chmod(key_path, 0o644)
    with pytest.raises(UserError, match="chmod 600"):
        start(config_for(tmp_path, study_toml))


def test_explicit_key_file_and_short_key(tmp_path, study_toml):
    """An explicit key file path is used; a truncated key file is refused."""
    key_path = tmp_path / "keys" / "k.key"
    start(config_for(tmp_path, study_toml, key_file=key_path))
    assert key_path.is_file() and not (tmp_path / "study-secret.key").exists()
    key_path.write_bytes(b"short")
    with pytest.raises(UserError, match="expected 32"):
        start(config_for(tmp_path, study_toml, key_file=key_path))


def test_config_from_environment(tmp_path, study_toml, monkeypatch):
    """create_app() without arguments reads CRNKIT_STUDY_* variables."""
    monkeypatch.setenv("CRNKIT_STUDY_SPEC", str(study_toml))
    monkeypatch.setenv("CRNKIT_STUDY_DB", str(tmp_path / "env.sqlite"))
    monkeypatch.setenv("CRNKIT_STUDY_ADMIN_TOKEN", "tok")
    monkeypatch.setenv("CRNKIT_STUDY_MAX_BODY", "4096")
    monkeypatch.setenv("CRNKIT_STUDY_TRUST_PROXY", "1")
    app = create_app()
    rt = runtime(app)
    assert rt.config.database_url == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert rt.config.key_file is None and rt.key_file.name == "study.key"
    assert rt.config.admin_token == "tok" and rt.config.trust_proxy
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    rt.engine.dispose()


def test_config_errors_are_one_line():
    """Missing settings and unusable values raise UserError naming them."""
    with pytest.raises(UserError, match="CRNKIT_STUDY_SPEC"):
        ServerConfig.from_env({})
    with pytest.raises(UserError, match="MAX_BODY"):
        ServerConfig.from_env(
            {"CRNKIT_STUDY_SPEC": "a", "CRNKIT_STUDY_DB": "b", "CRNKIT_STUDY_MAX_BODY": "lots"}
        )
    with pytest.raises(UserError, match="database_url"):
        ServerConfig.from_mapping({"spec_path": "s.toml"})
    with pytest.raises(UserError, match="database URL"):
        ServerConfig.build(spec_path="s.toml", database_url="postgresql://u@h:port/db")


def test_missing_spec_is_user_error(tmp_path):
    """A spec path that does not exist is a clear UserError."""
    with pytest.raises(UserError, match="not found"):
        create_app(config_for(tmp_path, tmp_path / "nope.toml"))


# ------------------------------------------------------------------ the participant page


def test_page_has_no_inline_script_or_handlers(client):
    """The page carries its config as JSON and loads script/style only from files (strict CSP)."""
    html = client.get("/").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    for attrs, body in scripts:
        assert ("src=" in attrs and not body.strip()) or 'type="application/json"' in attrs
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert not re.search(r"\sstyle\s*=", html) and "<style" not in html
    config = json.loads(re.search(r'id="study-config">(.*?)</script>', html, re.S).group(1))
    assert config["study_id"] == "fixture-study" and config["practice_trials"] == 2
    assert config["display"]["width"] == 64 and config["params"] == {}


def test_page_static_files_are_served(client):
    """The page's stylesheet, its module script and every module that imports are served."""
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(urls) == 2
    seen = set()
    while urls:
        url = urls.pop()
        seen.add(url)
        with client.get(url) as reply:
            assert reply.status_code == 200, url
            body = reply.get_data(as_text=True)
        if url.endswith(".js"):
            assert reply.mimetype == "text/javascript"
            imports = re.findall(r'from "\./([\w.-]+\.js)"', body)
            urls += [f"/static/{name}" for name in imports if f"/static/{name}" not in seen]
    assert len(seen) == 5


def test_bad_platform_parameters_render_an_error_page(app_factory):
    """A Prolific link without PROLIFIC_PID shows a 400 page naming the parameter."""
    app = app_factory(platform={"kind": "prolific", "completion_code": "X1"})
    reply = app.test_client().get("/?STUDY_ID=abc")
    assert reply.status_code == 400 and b"PROLIFIC_PID" in reply.data
