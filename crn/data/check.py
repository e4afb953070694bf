"""Verification of a split: every pair exists, decodes, has valid labels and matching sizes."""

from __future__ import annotations

from tqdm import tqdm

from crn.data.splits import SPLITS, Splits, open_split_source
from crn.errors import UserError


def check_splits(splits: Splits, progress: bool = True) -> tuple[list[str], int]:
    """Load every pair of every split; return (all problems, number of pairs checked)."""
    try:
        src = open_split_source(splits)
    except UserError as err:
        return [str(err)], 0
    problems = []
    ids = [(split, image_id) for split in SPLITS for image_id in splits.ids(split)]
    for split, image_id in tqdm(ids, desc="check", unit="pair", disable=not progress):
        try:
            src.load(image_id)
        except UserError as err:
            problems.append(f"{split}/{image_id}: {err}")
    return problems, len(ids)
