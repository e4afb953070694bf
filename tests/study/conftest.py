"""Shared fixtures of the study tests: tiny image sets and a valid study.toml that uses them.

Fixture names are stable (other study tests reuse them): `image_sets`, `study_toml`. The
functions behind them live in `study_helpers` (import it for variants).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from study_helpers import make_image_sets, study_document, write_study_toml


@pytest.fixture
def image_sets(tmp_path: Path) -> dict:
    """Sets real, crn, pix2pix and catch set real-blur: 12 ids (img00…img11), 8×16 images."""
    return make_image_sets(tmp_path / "sets")


@pytest.fixture
def study_toml(tmp_path: Path, image_sets: dict) -> Path:
    """A valid study.toml over `image_sets`: 2 comparisons × [125, 1000, "unlimited"], 12 trials."""
    return write_study_toml(tmp_path / "study.toml", study_document(image_sets, tmp_path))


# --- web fixtures (owner: study web core; Flask-tutorial style over a temp database) ---


@pytest.fixture
def app(tmp_path: Path, study_toml: Path):
    """The study app over `study_toml` and a fresh SQLite file in tmp_path."""
    from study.app import create_app

    application = create_app(
        {
            "TESTING": True,
            "spec_path": study_toml,
            "database_url": f"sqlite:///{tmp_path / 'study.sqlite'}",
            "admin_token": "admin-test-token",
        }
    )
    yield application
    from study.app import runtime

    runtime(application).engine.dispose()


@pytest.fixture
def client(app):
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture
def app_factory(tmp_path: Path, image_sets: dict):
    """Build apps over variants of the fixture spec: app_factory(platform={"kind": "prolific"})."""
    from study.app import create_app, runtime

    apps = []

    def build(toml_name: str = "study.toml", db_name: str = "study.sqlite", **sections):
        doc = study_document(image_sets, tmp_path)
        for key, value in sections.items():
            doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
        doc = {key: value for key, value in doc.items() if value is not None}
        spec = write_study_toml(tmp_path / toml_name, doc)
        application = create_app(
            {"TESTING": True, "spec_path": spec, "database_url": f"sqlite:///{tmp_path / db_name}"}
        )
        apps.append(application)
        return application

    yield build
    for application in apps:
        runtime(application).engine.dispose()
