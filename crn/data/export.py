"""`export-real`: the photos of a split, resized to the split's size, as the image set `real`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from crn.data.resize import resize_photo
from crn.data.splits import Splits, open_split_source
from crn.errors import UserError
from crn.imageset import ImageSet, write_imageset


def export_real(
    splits: Splits,
    split: str,
    out: str | Path,
    source_path: str | Path = "",
    progress: bool = True,
) -> ImageSet:
    """Write the photos of `split` into the image set folder `out` (name and kind "real")."""
    ids = splits.ids(split)
    if not ids:
        raise UserError(f"split '{split}' is empty; nothing to export")
    src = open_split_source(splits)

    def photos() -> Iterator[tuple[str, np.ndarray]]:
        """Each photo of the split, resized to the split's size."""
        for image_id in tqdm(ids, desc="export-real", unit="img", disable=not progress):
            _, photo = src.load(image_id)
            yield image_id, resize_photo(photo, splits.size)

    return write_imageset(
        out,
        name="real",
        kind="real",
        source=str(source_path) or splits.root,
        dataset=splits.source,
        split_sha256=splits.sha256,
        split=split,
        size=splits.size,
        images=photos(),
    )
