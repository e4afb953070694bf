"""Spreadsheet-safe CSV text cells (OWASP's CSV-injection rule), reversibly.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel and LibreOffice, so a participant's User-Agent of `=HYPERLINK(…)` would become one. The
exports write such text with a leading apostrophe, which spreadsheets show as plain text. Text
that already begins with an apostrophe gets one as well, so the rule is reversible: analysis
drops exactly one leading apostrophe from every text cell that has one and sees the raw value.
Numbers are never changed (a negative number is not text).
"""

from __future__ import annotations

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def spreadsheet_safe(text: str) -> str:
    """`text` with a leading apostrophe if a spreadsheet would run it (or it starts with one)."""
    if text.startswith((*FORMULA_LEADS, ESCAPE)):
        return ESCAPE + text
    return text
