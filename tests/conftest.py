"""Fixtures every test gets: study secrets go to a temporary folder, never the user's own."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_secrets_dir(tmp_path_factory, monkeypatch):
    """Point CRNKIT_SECRETS_DIR (keys, admin tokens) at a fresh temporary folder per test."""
    folder = tmp_path_factory.mktemp("secrets") / "crnkit-secrets"
    monkeypatch.setenv("CRNKIT_SECRETS_DIR", str(folder))
    return folder
