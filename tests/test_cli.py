"""The top-level `crnkit` dispatcher."""

import pytest

from crn import cli


def test_every_group_is_listed_in_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out
    assert "example:" in out


def test_unknown_group_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["nonsense"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_group_module_has_main():
    import importlib

    for module_name, _ in cli.COMMANDS.values():
        module = importlib.import_module(module_name)
        assert callable(module.main), module_name
