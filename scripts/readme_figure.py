"""Draw the README's picture from a finished demo: label map | CRN | pix2pix | encdec | real.

usage: python scripts/readme_figure.py demo-out docs/img/demo_sets.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from crn.data.colorize import colorize
from crn.data.splits import load_splits, open_split_source
from crn.imageset import load_imageset, read_image

COLUMNS = ("crn", "pix2pix", "encdec", "real")


def main(demo: Path, out: Path, rows: int = 4, scale: int = 2) -> None:
    """Write a grid of `rows` test layouts with each set's image for them."""
    splits = load_splits(demo / "splits.json")
    source = open_split_source(splits)
    sets = {name: load_imageset(demo / "sets" / name) for name in COLUMNS}
    tiles = []
    for image_id in sets["real"].ids[:rows]:
        label, _ = source.load(image_id)
        h, w = splits.size
        label_img = Image.fromarray(colorize(label, splits.classes)).resize((w, h), Image.NEAREST)
        row = [np.asarray(label_img)] + [read_image(sets[n].path(image_id)) for n in COLUMNS]
        tiles.append(np.concatenate(row, axis=1))
    grid = np.concatenate(tiles, axis=0)
    image = Image.fromarray(grid)
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image.save(out)
    print(json.dumps({"out": str(out), "columns": ["label", *COLUMNS], "rows": rows}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
