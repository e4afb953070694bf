"""Where study secrets live: one private folder, found the same way by every command."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from crn.errors import UserError
from study.secretstore import (
    find_key_file,
    read_or_create_admin_token,
    secrets_dir,
)


def test_the_folder_follows_the_environment(tmp_path):
    assert secrets_dir({"CRNKIT_SECRETS_DIR": str(tmp_path)}) == tmp_path
    xdg = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert secrets_dir(xdg) == tmp_path / "cfg" / "crnkit" / "secrets"
    assert secrets_dir({}) == Path.home() / ".config" / "crnkit" / "secrets"


def test_admin_token_is_created_private_once_and_kept(private_secrets_dir):
    token, path, created = read_or_create_admin_token("s1")
    assert created and len(token) >= 32 and path == private_secrets_dir / "s1.admin-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(private_secrets_dir.stat().st_mode) == 0o700
    assert (private_secrets_dir / ".gitignore").read_text().strip().endswith("*")
    assert read_or_create_admin_token("s1") == (token, path, False)
    assert read_or_create_admin_token("s2")[0] != token
    path.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        read_or_create_admin_token("s1")


def test_a_key_left_beside_the_data_by_an_older_version_is_still_found(
    tmp_path, private_secrets_dir
):
    assert find_key_file((tmp_path,)) == private_secrets_dir / "study.key"
    (tmp_path / "study-secret.key").write_bytes(b"k" * 32)
    assert find_key_file((tmp_path,)) == tmp_path / "study-secret.key"
    (private_secrets_dir).mkdir(parents=True, exist_ok=True)
    (private_secrets_dir / "study.key").write_bytes(b"j" * 32)
    assert find_key_file((tmp_path,)) == private_secrets_dir / "study.key"
