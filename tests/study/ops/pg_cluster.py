"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, an unprivileged user,
a temp folder, a unix socket there and a loopback port; stopped and deleted afterwards.

`scripts/ensure-postgresql.sh` (run by `make test` and `.ci/run`) installs the binaries.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "crnkit"


def server_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _demote() -> dict:
    """Popen arguments that run the server as an unprivileged user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root, but there is no 'postgres' or 'nobody' user to run as")


@dataclass
class PgCluster:
    """A running cluster: its folder, port and binaries."""

    root: Path
    port: int
    bin: Path
    run_as: dict

    def url(self, database: str = "postgres") -> str:
        """A postgresql:// URL for `database` over TCP on the loopback address."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        subprocess.run(
            [str(self.bin / "pg_ctl"), "stop", "-D", str(self.root / "data"), "-m", "immediate"],
            capture_output=True,
            check=False,
            timeout=60,
            **self.run_as,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(settings: dict[str, str] | None = None) -> PgCluster:
    """initdb and start a cluster in a new temp folder (trust auth, loopback and socket only)."""
    binaries = server_bin()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL's initdb is not installed")
    run_as = _demote()
    # A folder directly under /tmp: the server's user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="crnkit-pg-"))
    if run_as:
        os.chown(root, run_as["user"], run_as["group"])
    port = _free_port()
    options = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(root),
        "fsync": "off",  # a throwaway cluster: process crashes, not power loss, are tested
        "max_connections": "200",
        **(settings or {}),
    }
    flags = " ".join(f"-c {k}={v}" for k, v in options.items())
    init = [str(binaries / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER]
    init += ["--auth=trust", "-E", "UTF8", "--no-sync"]
    start = [str(binaries / "pg_ctl"), "start", "-D", str(root / "data"), "-w", "-t", "60"]
    start += ["-o", flags, "-l", str(root / "server.log")]
    try:
        for cmd in (init, start):
            subprocess.run(cmd, capture_output=True, check=True, timeout=120, cwd=root, **run_as)
    except subprocess.CalledProcessError as err:
        log = (
            (root / "server.log").read_text(errors="replace")
            if (root / "server.log").exists()
            else ""
        )
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(
            f"{err.cmd[0]} failed: {err.stderr.decode(errors='replace')}{log}"
        ) from None
    return PgCluster(root, port, binaries, run_as)
