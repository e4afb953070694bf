"""What a running study server holds: config, engine, spec, image sets, image keys, secret."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import Engine, insert, select

from crn.errors import UserError
from study.config import ServerConfig, sqlite_folder
from study.db import Study, init_db, make_engine, write_tx
from study.imageindex import ImageIndex
from study.keyfile import read_or_create_key
from study.secretstore import find_key_file

EXTENSION = "crnkit_study"
STUDY = Study.__table__


@dataclass(frozen=True)
class StudyRuntime:
    """Everything the request handlers need, built once per app in `create_app`."""

    config: ServerConfig
    engine: Engine
    spec: object  # study.spec.StudySpec
    sets: object  # study.imagesets.StudySets
    images: ImageIndex
    secret: bytes
    key_file: Path

    @property
    def study_id(self) -> str:
        """The id of the study this server runs."""
        return self.spec.id


def runtime(app: Flask | None = None) -> StudyRuntime:
    """The StudyRuntime of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


def start_runtime(config: ServerConfig) -> StudyRuntime:
    """Load and check spec and image sets, open the database, and register the study in it."""
    from study.imagesets import load_study_sets
    from study.spec import load_spec

    spec = load_spec(config.spec_path)
    sets = load_study_sets(spec, verify=config.verify_images)
    key_file = resolve_key_file(config)
    engine = make_engine(config.database_url)
    try:
        init_db(engine)
        secret = read_or_create_key(key_file)
        upsert_study(engine, spec, sets)
        images = ImageIndex.build(spec.id, sets.sets, secret)
    except BaseException:
        engine.dispose()
        raise
    return StudyRuntime(
        config=config,
        engine=engine,
        spec=spec,
        sets=sets,
        images=images,
        secret=secret,
        key_file=key_file,
    )


def resolve_key_file(config: ServerConfig) -> Path:
    """The configured key file, else the key in the secrets folder (or a legacy one)."""
    if config.key_file is not None:
        return config.key_file
    folder = sqlite_folder(config.database_url)
    return find_key_file((folder,) if folder else ())


def set_digests(sets) -> dict[str, str]:
    """{set name: digest over its (id, sha256) pairs} of the study's image sets."""
    return {name: sets.digest(name) for name in sorted(sets.sets)}


def upsert_study(engine: Engine, spec, sets) -> None:
    """Insert the study row, or check that the stored one came from this very spec and sets."""
    digests = set_digests(sets)
    with write_tx(engine) as conn:
        row = conn.execute(
            select(STUDY.c.spec_sha256, STUDY.c.imagesets_json, STUDY.c.spec_json).where(
                STUDY.c.id == spec.id
            )
        ).first()
        if row is None:
            conn.execute(
                insert(STUDY).values(
                    id=spec.id,
                    title=spec.title,
                    dataset=spec.dataset,
                    spec_sha256=spec.sha256,
                    spec_json=json.dumps(spec.to_dict(), sort_keys=True),
                    imagesets_json=json.dumps(digests, sort_keys=True),
                    status="open",
                )
            )
            return
    if row.spec_sha256 != spec.sha256:
        raise UserError(
            f"study '{spec.id}' was started from a different study.toml (sha256 "
            f"{row.spec_sha256[:12]}…, this one {spec.sha256[:12]}…); an edited spec must not "
            "change a running study: give it a new [study] id"
        )
    _check_markdown(spec, json.loads(row.spec_json or "{}"))
    stored = json.loads(row.imagesets_json or "{}")
    if stored != digests:
        changed = sorted(n for n in set(stored) | set(digests) if stored.get(n) != digests.get(n))
        raise UserError(
            f"study '{spec.id}' was started with other images in set(s) {', '.join(changed)}; "
            "changed image sets need a new [study] id"
        )


def _check_markdown(spec, stored: dict) -> None:
    """Consent and instructions files are part of the study: an edited one needs a new id."""
    for key, name in (
        ("consent_markdown", "consent_file"),
        ("instructions_markdown", "instructions_file"),
    ):
        if stored.get(key, "") != getattr(spec, key):
            raise UserError(
                f"study '{spec.id}': {getattr(spec, name) or key} changed since the study started; "
                "changed texts need a new [study] id"
            )
