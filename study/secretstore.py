"""Where a study's secrets live: one private folder per user, outside any working tree.

It holds `study.key`, the HMAC key that hashes worker ids and names image URLs, and one
`<study id>.admin-token` per study. The key is shared by the user's studies: `exclude_studies`
recognises a worker across studies only if their ids were hashed with the same key. `serve`,
`simulate` and `payments` all look here, so nobody copies a key beside a CSV, and `git add .`
in a project cannot pick one up. The
folder is `$CRNKIT_SECRETS_DIR`, else `$XDG_CONFIG_HOME/crnkit/secrets`, else
`~/.config/crnkit/secrets`; it is created with mode 0700, its files 0600, and it holds a
`.gitignore` that excludes everything (for people who keep their config folder in git).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from crn.errors import UserError

SECRETS_ENV = "CRNKIT_SECRETS_DIR"
KEY_NAME = "study.key"
LEGACY_KEY_NAME = "study-secret.key"
TOKEN_BYTES = 24


def secrets_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder holding every study's key and admin token (not created here)."""
    env = os.environ if environ is None else environ
    if env.get(SECRETS_ENV):
        return Path(env[SECRETS_ENV]).expanduser()
    config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else None
    return (config or Path.home() / ".config") / "crnkit" / "secrets"


def ensure_secrets_dir(folder: Path) -> Path:
    """Create `folder` (mode 0700) with a `.gitignore` excluding everything; return it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# crnkit study secrets: never commit these\n*\n", encoding="utf-8")
    return folder


def key_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the studies' key file lives in the secrets folder."""
    return secrets_dir(environ) / KEY_NAME


def admin_token_path(study_id: str, environ: Mapping[str, str] | None = None) -> Path:
    """Where study `study_id`'s admin token lives in the secrets folder."""
    return secrets_dir(environ) / f"{study_id}.admin-token"


def find_key_file(legacy_folders: tuple[Path, ...] = ()) -> Path:
    """The key in the secrets folder, else a `study-secret.key` an older version left in one of
    `legacy_folders`; the secrets-folder path if neither exists (to be created there)."""
    path = key_path()
    if path.exists():
        return path
    for folder in legacy_folders:
        legacy = folder / LEGACY_KEY_NAME
        if legacy.is_file():
            return legacy
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new 0600 file atomically; an existing file is left as it is.

    Written to a private temp file, then hard-linked into place: several server processes
    starting at once either create the file or read the complete one another process made.
    """
    if path.parent == secrets_dir():
        ensure_secrets_dir(path.parent)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # several processes at once: the first one's file wins
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_or_create_admin_token(study_id: str) -> tuple[str, Path, bool]:
    """(token, its file, whether it was just created): the same token across restarts."""
    path = admin_token_path(study_id)
    created = not path.exists()
    if created:
        write_private(path, (secrets.token_urlsafe(TOKEN_BYTES) + "\n").encode())
    if path.stat().st_mode & 0o077:
        raise UserError(f"admin token file {path} can be read by others; run: chmod 600 {path}")
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise UserError(f"admin token file {path} is empty; delete it to get a new token")
    return token, path, created
