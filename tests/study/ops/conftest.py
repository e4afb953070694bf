"""Fixtures of the study-ops tests: apps with an admin token, live gunicorn servers."""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path

import pytest
from ops_helpers import ADMIN_TOKEN, start_server
from study_helpers import study_document, write_study_toml


@pytest.fixture
def ops_factory(tmp_path: Path, image_sets: dict):
    """Build apps (admin token set) over variants of the fixture spec, each with its own DB."""
    from study.app import create_app, runtime

    apps = []

    def build(name: str = "study", admin_token: str | None = ADMIN_TOKEN, **sections):
        doc = study_document(image_sets, tmp_path)
        for key, value in sections.items():
            doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
        toml = write_study_toml(tmp_path / f"{name}.toml", doc)
        application = create_app(
            {
                "TESTING": True,
                "spec_path": toml,
                "database_url": f"sqlite:///{tmp_path / f'{name}.sqlite'}",
                "admin_token": admin_token,
            }
        )
        apps.append(application)
        return application

    yield build
    for application in apps:
        runtime(application).engine.dispose()


@pytest.fixture
def ops_app(ops_factory):
    """The fixture study with admin token ADMIN_TOKEN over a fresh SQLite file."""
    return ops_factory()


@pytest.fixture
def ops_client(ops_app):
    """A test client of `ops_app`."""
    return ops_app.test_client()


@pytest.fixture
def admin_headers() -> dict:
    """The bearer header of the admin token."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def live_server(tmp_path: Path):
    """Start `crnkit study serve`: live_server(toml, db, extra=(...)); killed afterwards."""
    servers = []

    def start(toml: Path, db: Path | str | None = None, **kwargs):
        server = start_server(toml, db or tmp_path / "live.sqlite", **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill(signal.SIGTERM)


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster for the session; skipped only outside CI when unavailable."""
    from pg_cluster import server_bin, start_cluster

    missing = None
    if importlib.util.find_spec("psycopg") is None:
        missing = "psycopg is not installed (pip install -e '.[dev]')"
    elif server_bin() is None:
        missing = "PostgreSQL is not installed (run scripts/ensure-postgresql.sh)"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the PostgreSQL tests must run in CI: {missing}")
        pytest.skip(missing)
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A fresh, empty database of the session's PostgreSQL cluster."""
    return pg_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def live_db(request, tmp_path) -> str:
    """A database URL for a live server: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.sqlite'}"
    return request.getfixturevalue("pg_url")
