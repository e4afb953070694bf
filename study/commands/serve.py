"""`crnkit study serve`: the study app under gunicorn (in-process), never Flask's dev server.

The master process checks the spec and image sets, creates the database, the key file and the
study row once; each forked worker then builds its own app and engine (connections are never
shared across a fork).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crn.errors import UserError

ADMIN_TOKEN_ENV = "CRNKIT_STUDY_ADMIN_TOKEN"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class ServeOptions:
    """How gunicorn runs the app: address, processes and threads."""

    host: str
    port: int
    workers: int
    threads: int
    timeout: int = 30
    keepalive: int = 5
    backlog: int = 2048


# Few threads, more processes: threads of one process share its GIL, and a thread holding
# SQLite's write lock then waits for the GIL while the others parse requests. On 2 cores,
# benchmarks/bench_study_load.py (closed loop) stored 990-1,120 answers/s with 2 workers ×
# 4 threads and 1,150-1,360/s with 3 × 1 or 3 × 2; 2 threads keep a worker answering while
# one of them streams an export.
DEFAULT_THREADS = 2


def default_workers() -> int:
    """CPU cores this process may use, plus one (a worker waiting on the write lock idles)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores + 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of `crnkit study serve`."""
    parser.add_argument("spec", help="the study.toml to serve")
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite file or database URL (default: study.sqlite beside the spec)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="gunicorn worker processes (default: CPU cores + 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"threads per worker (gthread; default {DEFAULT_THREADS})",
    )
    parser.add_argument(
        "--admin-token",
        default=None,
        help=f"token for /admin (default: ${ADMIN_TOKEN_ENV}, else the study's stored token, "
        "created once in the secrets folder)",
    )
    parser.add_argument(
        "--key-file",
        default=None,
        help="HMAC key for worker ids (default: the key in the secrets folder)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="https URL participants reach; prints the Prolific URL and MTurk XML for it",
    )
    parser.add_argument(
        "--trust-proxy",
        action="store_true",
        help="trust one reverse proxy's X-Forwarded-For/Proto/Host/Prefix headers",
    )
    parser.add_argument(
        "--enrol-pool",
        type=int,
        default=0,
        metavar="N",
        help="keep N participants planned ahead, so that a burst of N arrivals enrols at once "
        "(default 0: plan each on arrival)",
    )
    parser.add_argument(
        "--no-verify-images",
        action="store_true",
        help="skip checking every image file against its sha256 at start",
    )


def _check_args(ns: argparse.Namespace) -> None:
    if not Path(ns.spec).is_file():
        raise UserError(f"{ns.spec}: no such study spec (expected a study.toml file)")
    if not 0 < ns.port < 65536:
        raise UserError(f"--port {ns.port}: expected 1..65535")
    if ns.workers < 1 or ns.threads < 1:
        raise UserError("--workers and --threads must be at least 1")
    if ns.enrol_pool < 0:
        raise UserError(f"--enrol-pool {ns.enrol_pool}: expected 0 or more")
    if ns.public_url is not None and not ns.public_url.startswith("https://"):
        raise UserError(f"--public-url {ns.public_url}: expected an https:// URL")


def build_config(ns: argparse.Namespace, admin_token: str | None) -> Any:
    """The app's ServerConfig from the command line."""
    from study.config import ServerConfig
    from study.export import sqlalchemy_url

    db = ns.db if ns.db is not None else str(Path(ns.spec).resolve().parent / "study.sqlite")
    db = sqlalchemy_url(db)
    return ServerConfig.build(
        spec_path=Path(ns.spec).resolve(),
        database_url=db,
        key_file=ns.key_file,
        admin_token=admin_token,
        trust_proxy=ns.trust_proxy,
        public_url=ns.public_url,
        verify_images=not ns.no_verify_images,
        enrol_pool=ns.enrol_pool,
    )


def prepare_storage(config: Any) -> tuple[str, Path]:
    """Build the app once in this (master) process: DB, key file, study row.

    Returns the study id and the key file the app used.
    """
    from study.app import create_app, runtime
    from study.vacancies import fill_vacancies

    # No background thread in the master (it forks the workers): plan the pool here, once.
    app = create_app(dataclasses.replace(config, enrol_pool=0))
    rt = runtime(app)
    try:
        fill_vacancies(rt, config.enrol_pool)
    finally:
        rt.engine.dispose()
    return rt.study_id, rt.key_file


def check_port_free(host: str, port: int) -> None:
    """UserError if something already listens on host:port (before anything is created)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise UserError(
                    f"port {port} is in use on {host or 'all addresses'}; pass --port"
                ) from None
            raise UserError(f"cannot listen on {host}:{port} ({err.strerror})") from None


def gunicorn_settings(options: ServeOptions) -> dict[str, Any]:
    """gunicorn settings: threaded workers, no access log (URLs can carry platform worker ids)."""
    return {
        "bind": [f"{options.host}:{options.port}"],
        "workers": options.workers,
        "worker_class": "gthread",
        "threads": options.threads,
        "timeout": options.timeout,
        "graceful_timeout": 10,
        "keepalive": options.keepalive,
        "backlog": options.backlog,
        # Each worker listens on its own SO_REUSEPORT socket and the kernel spreads connections
        # evenly. On one shared socket, whichever worker woke first accepted most of a burst of
        # keep-alive connections and kept them: one worker then did the work of both (measured:
        # 28 of 29 CPU-seconds in one worker, 780 instead of 1,100 answers/s).
        "reuse_port": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": False,
        # gunicorn would honour X-Forwarded-Proto from localhost on its own; proxy headers are
        # trusted only through the app's ProxyFix, and only with --trust-proxy.
        "forwarded_allow_ips": "",
        "proc_name": "crnkit-study",
    }


def make_server(config: Any, options: ServeOptions, banner: str) -> Any:
    """A gunicorn application whose workers each call create_app(config) after the fork."""
    from gunicorn.app.base import BaseApplication

    class StudyServer(BaseApplication):
        """gunicorn's embedding API: settings from a dict, the app from create_app."""

        def load_config(self) -> None:
            for key, value in gunicorn_settings(options).items():
                self.cfg.set(key, value)
            self.cfg.set("when_ready", lambda _arbiter: print(banner, flush=True))

        def load(self) -> Any:
            from study.app import create_app

            return create_app(config)

    return StudyServer()


def _base_url(options: ServeOptions, public_url: str | None) -> str:
    if public_url:
        return public_url.rstrip("/")
    host = "127.0.0.1" if options.host in ("0.0.0.0", "") else options.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{options.port}"


def banner_text(
    study_id: str,
    options: ServeOptions,
    public_url: str | None,
    token: str,
    token_file: Path | None,
    key_file: Path | None = None,
) -> str:
    """What serve prints once listening: URLs, how to use the admin token, platform snippets."""
    base = _base_url(options, public_url)
    where = f"  (kept in {token_file}; same at every restart)" if token_file else ""
    lines = [
        f"crnkit study serve: study '{study_id}' listening on {options.host}:{options.port} "
        f"({options.workers} workers × {options.threads} threads)",
        f"  participants: {base}/",
        f"  admin:        {base}/admin/  (sign in with the token, or send "
        "'Authorization: Bearer <token>')",
        f"  admin token:  {token}{where}",
    ]
    if key_file is not None:
        lines.append(
            f"  key file:     {key_file}  (worker-id hashes; crnkit study payments needs it)"
        )
    if public_url:
        from study.platforms import mturk_external_question_xml, prolific_url_template

        page = f"{base}/"
        lines += [
            f"  Prolific study URL: {prolific_url_template(page)}",
            "  MTurk ExternalQuestion:",
            mturk_external_question_xml(page).rstrip("\n"),
        ]
    return "\n".join(lines)


def run(ns: argparse.Namespace) -> int:
    """Check everything, prepare the database, then serve until interrupted."""
    from study.secretstore import read_or_create_admin_token

    _check_args(ns)
    token = ns.admin_token or os.environ.get(ADMIN_TOKEN_ENV) or None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise UserError(
            f"the admin token is {len(token)} characters; use at least {MIN_TOKEN_CHARS} "
            "(or leave it out to use the study's stored one)"
        )
    check_port_free(ns.host, ns.port)
    config = build_config(ns, token)
    study_id, key_file = prepare_storage(config)
    token_file = None
    if token is None:
        token, token_file, _ = read_or_create_admin_token(study_id)
    # The master verified every image; workers need not hash them all again.
    worker_config = dataclasses.replace(
        config, verify_images=False, admin_token=token, key_file=key_file
    )
    options = ServeOptions(ns.host, ns.port, ns.workers, ns.threads)
    banner = banner_text(study_id, options, config.public_url, token, token_file, key_file)
    sys.stdout.flush()
    make_server(worker_config, options, banner).run()
    return 0
