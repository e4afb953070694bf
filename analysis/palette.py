"""One colour per method name, the same in every panel, figure and report.

The project's own image sets have fixed colours (seaborn's colour-blind palette). Any other
name gets a colour from a hash of the name, so its colour never depends on which data sets,
comparisons or other methods a figure happens to show; a caller may pass its own mapping.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

KNOWN: dict[str, str] = {
    "crn": "#0173b2",
    "pix2pix": "#de8f05",
    "encdec": "#029e73",
    "real": "#3c3c3c",
}
# The rest of the colour-blind palette, then darker variants of it, for every other name.
OTHERS: tuple[str, ...] = (
    "#d55e00",
    "#cc78bc",
    "#ca9161",
    "#56b4e9",
    "#ece133",
    "#fbafe4",
    "#8c0800",
    "#591e71",
    "#592f0d",
    "#006374",
    "#b8850a",
    "#a23582",
)


def method_colour(method: str, fixed: Mapping[str, str] | None = None) -> str:
    """The colour of `method`: from `fixed`, the known sets, or a hash of the name."""
    if fixed and method in fixed:
        return fixed[method]
    if method in KNOWN:
        return KNOWN[method]
    return OTHERS[zlib.crc32(method.encode("utf-8")) % len(OTHERS)]


def method_colours(
    methods: Iterable[str], fixed: Mapping[str, str] | None = None
) -> dict[str, str]:
    """{method: colour} for the given names (each name's colour is independent of the others)."""
    return {m: method_colour(m, fixed) for m in methods}
