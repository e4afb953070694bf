"""Generate docs/cli.md, the reference of every `crnkit` subcommand, from the parsers."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
from collections.abc import Iterator
from unittest import mock

from crn.cli import COMMANDS, _top_parser

HEADER = """# `crnkit` command reference

Generated from the parsers by `python -m crn.clidoc > docs/cli.md`; a test keeps it current.
"""


class _CapturedParserError(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _help_text(main, argv: list[str], prog: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"], prog=prog)
    return out.getvalue().rstrip()


def _parser_of(main, argv: list[str], prog: str) -> argparse.ArgumentParser | None:
    """The parser `main` builds for `argv`, captured at its parse_args call."""

    def _capture(self, *args, **kwargs):
        raise _CapturedParserError(self)

    quiet = contextlib.redirect_stdout(io.StringIO())
    with mock.patch.object(argparse.ArgumentParser, "parse_args", _capture), quiet:
        try:
            main([*argv, "--help"], prog=prog)
        except _CapturedParserError as cap:
            return cap.parser
        except SystemExit:
            return None
    return None


def _choices(parser: argparse.ArgumentParser | None) -> list[str]:
    """Names of the subcommands (or positional choices such as MODEL) of `parser`."""
    if parser is None:
        return []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
        if not action.option_strings and action.choices and action.nargs is None:
            return [str(c) for c in action.choices]
    return []


def _sections(group: str) -> Iterator[str]:
    main = importlib.import_module(COMMANDS[group][0]).main
    prog = f"crnkit {group}"
    yield f"## `{prog}`\n\n```\n{_help_text(main, [], prog)}\n```\n"
    if group == "train":  # the model is a free positional, resolved through the registry
        from crn.engine.registry import MODELS

        names = list(MODELS)
    else:
        names = _choices(_parser_of(main, [], prog))
    for name in names:
        yield f"### `{prog} {name}`\n\n```\n{_help_text(main, [name], prog)}\n```\n"


def cli_reference_markdown() -> str:
    """The whole CLI reference as Markdown, with help texts at a fixed width of 100 columns."""
    with mock.patch.dict(os.environ, {"COLUMNS": "100"}):
        top = _top_parser().format_help().rstrip()
        parts = [HEADER, f"## `crnkit`\n\n```\n{top}\n```\n"]
        for group in COMMANDS:
            parts.extend(_sections(group))
    return "\n".join(parts)


if __name__ == "__main__":
    print(cli_reference_markdown(), end="")
