"""Server configuration of the study app: a frozen dataclass built from a mapping or the env."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from crn.errors import UserError

ENV_PREFIX = "CRNKIT_STUDY_"
DEFAULT_MAX_BODY = 64 * 1024
KEY_FILE_NAME = "study-secret.key"


@dataclass(frozen=True)
class ServerConfig:
    """Where the study's spec, database and secret live, and how requests are treated."""

    spec_path: Path
    database_url: str
    key_file: Path
    admin_token: str | None = None
    trust_proxy: bool = False
    public_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    verify_images: bool = True

    @classmethod
    def build(
        cls,
        *,
        spec_path: str | os.PathLike[str],
        database_url: str | os.PathLike[str],
        key_file: str | os.PathLike[str] | None = None,
        admin_token: str | None = None,
        trust_proxy: bool = False,
        public_url: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        verify_images: bool = True,
    ) -> ServerConfig:
        """A config with the database URL normalised and the key file defaulted beside the DB."""
        url = database_url_from(str(database_url))
        if key_file is None:
            key_file = default_key_file(url)
        if int(max_body_bytes) < 1024:
            raise UserError(f"max body size must be at least 1024 bytes, got {max_body_bytes}")
        return cls(
            spec_path=Path(spec_path),
            database_url=url,
            key_file=Path(key_file),
            admin_token=admin_token or None,
            trust_proxy=bool(trust_proxy),
            public_url=public_url.rstrip("/") if public_url else None,
            max_body_bytes=int(max_body_bytes),
            verify_images=bool(verify_images),
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ServerConfig:
        """Build from a mapping whose lowercase keys are field names (others are ignored)."""
        names = {f.name for f in fields(cls)}
        chosen = {k: v for k, v in values.items() if k in names}
        for required in ("spec_path", "database_url"):
            if chosen.get(required) in (None, ""):
                raise UserError(f"server config is missing '{required}'")
        return cls.build(**chosen)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServerConfig:
        """Build from CRNKIT_STUDY_* environment variables (listed in docs/contracts.md)."""

        def get(name: str, default: str | None = None) -> str | None:
            return environ.get(ENV_PREFIX + name, default)

        if not get("SPEC") or not get("DB"):
            raise UserError(
                f"set {ENV_PREFIX}SPEC (path to study.toml) and "
                f"{ENV_PREFIX}DB (database URL or file)"
            )
        max_body = get("MAX_BODY", str(DEFAULT_MAX_BODY))
        if not str(max_body).isdigit():
            raise UserError(f"{ENV_PREFIX}MAX_BODY must be a number of bytes, got '{max_body}'")
        return cls.build(
            spec_path=get("SPEC"),
            database_url=get("DB"),
            key_file=get("KEY_FILE") or None,
            admin_token=get("ADMIN_TOKEN") or None,
            trust_proxy=get("TRUST_PROXY", "0") in ("1", "true", "yes"),
            public_url=get("PUBLIC_URL") or None,
            max_body_bytes=int(max_body),
            verify_images=get("VERIFY_IMAGES", "1") not in ("0", "false", "no"),
        )


def database_url_from(value: str) -> str:
    """A SQLAlchemy URL: URLs pass through, a plain file path becomes an absolute sqlite URL."""
    if "://" in value:
        try:
            make_url(value)
        except Exception as err:
            raise UserError(f"database URL '{value}' is not valid ({err})") from None
        return value
    return f"sqlite:///{Path(value).resolve()}"


def default_key_file(url: str) -> Path:
    """`<db folder>/study-secret.key` for a SQLite file; other databases need an explicit one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).resolve().parent / KEY_FILE_NAME
    raise UserError(f"give a key file for the database '{parsed.render_as_string()}'")
