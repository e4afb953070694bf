"""The image sets metrics compare, checked together: non-empty, same ids, size and split."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from crn.errors import UserError
from crn.imageset import ImageSet, load_imageset

_VARIANT = re.compile(r"^(?P<base>.+)-v(?P<index>\d+)$")


def load_sets(paths: Sequence[str | Path]) -> list[ImageSet]:
    """Load image sets, refusing empty ones and two sets of the same name."""
    sets = []
    for path in paths:
        iset = load_imageset(path)
        if not iset.images:
            raise UserError(f"{iset.root}: image set '{iset.name}' is empty")
        sets.append(iset)
    names = [s.name for s in sets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"image set name '{twice[0]}' is given twice (names must be unique)")
    return sets


def check_comparable(iset: ImageSet, reference: ImageSet) -> None:
    """Refuse a set that cannot be scored against `reference` (its real counterpart)."""
    if iset.split_sha256 != reference.split_sha256 or iset.split != reference.split:
        raise UserError(
            f"image set '{iset.name}' comes from split {iset.split} of "
            f"{iset.split_sha256[:12]}…, the reference '{reference.name}' from split "
            f"{reference.split} of {reference.split_sha256[:12]}… (expected the same split)"
        )
    missing = sorted(set(iset.images) - set(reference.images))
    if missing:
        raise UserError(
            f"image set '{iset.name}': {len(missing)} image(s) have no real counterpart in "
            f"'{reference.name}' (e.g. '{missing[0]}')"
        )
    if len(iset.images) != len(reference.images):
        raise UserError(
            f"sets of different sizes: '{iset.name}' has {len(iset.images)} images, "
            f"'{reference.name}' {len(reference.images)} (expected one image per id of both)"
        )
    if tuple(iset.size) != tuple(reference.size):
        raise UserError(
            f"image set '{iset.name}' is {iset.size[0]}x{iset.size[1]}, '{reference.name}' "
            f"{reference.size[0]}x{reference.size[1]} (expected the same image size)"
        )


def variant_groups(sets: Sequence[ImageSet]) -> dict[str, list[ImageSet]]:
    """Group NAME-v0 … NAME-vK sets (`crnkit generate --variant all`) by NAME, checked."""
    groups: dict[str, list[tuple[int, ImageSet]]] = {}
    for iset in sets:
        match = _VARIANT.match(iset.name)
        if match is None:
            raise UserError(
                f"image set '{iset.name}' is not a variant set (expected NAME-v0, NAME-v1, … "
                "as written by `crnkit generate --variant all`)"
            )
        groups.setdefault(match["base"], []).append((int(match["index"]), iset))
    out = {}
    for base, members in sorted(groups.items()):
        if len(members) < 2:
            raise UserError(f"diversity of '{base}' needs at least 2 variant sets, got 1")
        ordered = [iset for _, iset in sorted(members, key=lambda m: m[0])]
        for other in ordered[1:]:
            check_comparable(other, ordered[0])
        out[base] = ordered
    return out
