"""Consent and instructions written in Markdown, rendered to HTML that cannot run anything.

markdown-it-py's CommonMark parser with raw HTML switched off: tags in the text are shown as
text, and links or images with script-like schemes (javascript:, vbscript:, file:, most data:)
are not turned into links at all (markdown-it's validateLink). The page's Content-Security-Policy
still forbids inline script and images from other origins on top of that.
"""

from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


def render_markdown(text: str) -> Markup:
    """Safe HTML of a Markdown text (raw HTML escaped, unsafe link schemes dropped)."""
    return Markup(_parser().render(text))
