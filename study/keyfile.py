"""The study's secret key: 32 random bytes in a 0600 file, read or created atomically."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from crn.errors import UserError
from study.secretstore import ensure_secrets_dir, secrets_dir

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
    # Written to a private temp file, then hard-linked into place: several server processes
    # starting at once either create the key or read the complete one another process made.
    if path.parent == secrets_dir():
        ensure_secrets_dir(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
