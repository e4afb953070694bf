"""docs/cli.md is generated from the parsers and must not drift from them."""

from pathlib import Path

from crn.clidoc import cli_reference_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_current():
    expected = cli_reference_markdown()
    assert DOC.read_text() == expected, "regenerate: python -m crn.clidoc > docs/cli.md"


def test_reference_covers_every_subcommand():
    text = cli_reference_markdown()
    for heading in ("crnkit data split", "crnkit train pix2pix", "crnkit study serve"):
        assert f"`{heading}`" in text
    assert text.count("example") >= 20
