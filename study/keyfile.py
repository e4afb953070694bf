"""The study's secret key: 32 random bytes in a 0600 file, read or created atomically."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from crn.errors import UserError
from study.secretstore import write_private

KEY_BYTES = 32


def read_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """The key stored at `path`, creating it (32 random bytes, mode 0600) if it does not exist."""
    path = Path(path)
    if not path.exists():
        _create_key(path)
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(f"key file {path} can be read by others; run: chmod 600 {path}")
    data = path.read_bytes()
    if len(data) < KEY_BYTES:
        raise UserError(f"key file {path} holds {len(data)} bytes, expected {KEY_BYTES}")
    return data


def _create_key(path: Path) -> None:
    write_private(path, secrets.token_bytes(KEY_BYTES))
