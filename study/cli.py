"""`crnkit study …`: dispatches to one module per subcommand, imported only when it runs."""

from __future__ import annotations

import argparse
import importlib

# subcommand -> (module with add_arguments(parser) and run(ns) -> int, one-line help, example)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "init": (
        "study.commands.init",
        "scaffold a study.toml from image sets",
        "crnkit study init --sets sets/real sets/crn sets/pix2pix --out study.toml",
    ),
    "validate": (
        "study.commands.validate",
        "check a study.toml, its image sets, shared ids and sizes",
        "crnkit study validate study.toml",
    ),
    "serve": (
        "study.commands.serve",
        "run the study under a production WSGI server",
        "crnkit study serve study.toml --db study.sqlite --port 8000",
    ),
    "simulate": (
        "study.commands.simulate",
        "drive a running study with simulated participants over HTTP",
        "crnkit study simulate http://127.0.0.1:8000 --participants 20",
    ),
    "export": (
        "study.commands.export",
        "write responses.csv and study.json (contract 5, docs/contracts.md) from the database",
        "crnkit study export --db study.sqlite --out responses.csv",
    ),
    "payments": (
        "study.commands.payments",
        "match participants against a platform's submission list: approve, reject, bonus",
        "crnkit study payments --participants participants.csv --submissions prolific.csv",
    ),
}


def build_parser(prog: str) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The `crnkit study` parser, with one (still empty) sub-parser per subcommand."""
    parser = argparse.ArgumentParser(prog=prog, description="Pairwise realism studies.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, text, example) in SUBCOMMANDS.items():
        sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    return parser, sub


def main(argv: list[str], prog: str = "crnkit study") -> int:
    """Parse `argv` for `crnkit study` and run the chosen subcommand."""
    parser, sub = build_parser(prog)
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)  # prints help or the usage error and exits
        return 2
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    module.add_arguments(sub.choices[argv[0]])
    ns = parser.parse_args(argv)
    return int(module.run(ns) or 0)
