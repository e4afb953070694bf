"""The README's step-by-step walkthrough, run verbatim on the synthetic data.

Every `$ crnkit …` line of the README section "A study on Cityscapes, step by step" runs in
order in an empty folder, and the lines shown after it must appear in its output, in order
(`…` matches anything within a line; a line of just `…` stands for lines left out). `study
serve` runs in the background on a free port, which replaces 8000 in the commands and output.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from crn import cli

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = ("## A study on Cityscapes, step by step", "## Measured performance")
README_PORT = "8000"


@dataclass
class Step:
    """One `$ crnkit …` line of the README and the output lines shown after it."""

    command: str
    expected: list[str] = field(default_factory=list)


def walkthrough_steps(text: str) -> list[Step]:
    """The commands of the walkthrough section with their expected output, in order."""
    start, end = text.index(SECTION[0]), text.index(SECTION[1])
    steps: list[Step] = []
    in_block = False
    for line in text[start:end].splitlines():
        if line.startswith("```"):
            in_block = not in_block
            current = None
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            current = Step(line[2:].strip())
            steps.append(current)
        elif current is not None and line.strip():
            current.expected.append(line.rstrip())
    return steps


def _pattern(line: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(piece) for piece in line.split("…")))


def check_output(command: str, expected: list[str], output: str) -> None:
    """Each expected line matches a later output line (a line of just … matches nothing)."""
    lines = [line.rstrip() for line in output.splitlines()]
    at = 0
    for want in expected:
        if want.strip() == "…":
            continue
        pattern = _pattern(want)
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        assert at < len(lines), f"$ {command}\nexpected a line like: {want!r}\noutput:\n{output}"
        at += 1


def _free_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _start_server(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "crn.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    port = args[args.index("--port") + 1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return server
        time.sleep(0.2)
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


def _run(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(args)
    return code, out.getvalue()


def test_readme_walkthrough_runs_as_written(tmp_path, monkeypatch):
    steps = walkthrough_steps(README.read_text(encoding="utf-8"))
    assert [s.command.split()[1] for s in steps[:2]] == ["data", "data"]
    assert any(s.command.startswith("crnkit data synth") for s in steps)
    monkeypatch.chdir(tmp_path)
    port = _free_port()
    servers: list[subprocess.Popen] = []
    try:
        for step in steps:
            command = step.command.replace(README_PORT, port)
            expected = [line.replace(README_PORT, port) for line in step.expected]
            args = shlex.split(command)
            assert args[0] == "crnkit", command
            if args[1:3] == ["study", "serve"]:
                log = tmp_path / "serve.log"
                servers.append(_start_server(args[1:], log))
                time.sleep(0.5)  # the banner is printed once the workers are up
                check_output(command, expected, log.read_text())
                continue
            code, output = _run(args[1:])
            assert code == 0, f"$ {command}\n{output}"
            check_output(command, expected, output)
    finally:
        for server in servers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert (tmp_path / "report" / "index.html").is_file()


def test_the_output_matcher_is_strict():
    check_output("x", ["a …", "…", "c"], "a b\nzz\nc\n")
    with pytest.raises(AssertionError):
        check_output("x", ["c", "a …"], "a b\nc\n")  # order matters
    with pytest.raises(AssertionError):
        check_output("x", ["a b"], "a bc\n")  # whole lines
