"""`ade20k`: SceneParsing, ADEChallengeData2016/{images,annotations}/{training,validation}.

Annotation value 0 ("other") becomes the ignore index; values 1..150 become classes 0..149.
Only this benchmark layout is read: the full ADE20K release (e.g. ADE20K_2021_17_01, with
its thousands of classes and per-image *_seg.png) is refused with a message saying so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crn.data.classes import IGNORE_INDEX, ClassInfo, apply_lut
from crn.data.sources.base import FilePairSource, LabelCoding, join_pairs, stem_table
from crn.errors import UserError

# The 150 SceneParsing classes (first names of objectInfo150) and their official colours.
_NAMES_TEXT = (
    "wall, building, sky, floor, tree, ceiling, road, bed, windowpane, grass, cabinet, "
    "sidewalk, person, earth, door, table, mountain, plant, curtain, chair, car, water, "
    "painting, sofa, shelf, house, sea, mirror, rug, field, armchair, seat, fence, desk, rock, "
    "wardrobe, lamp, bathtub, railing, cushion, base, box, column, signboard, chest of drawers, "
    "counter, sand, sink, skyscraper, fireplace, refrigerator, grandstand, path, stairs, "
    "runway, case, pool table, pillow, screen door, stairway, river, bridge, bookcase, blind, "
    "coffee table, toilet, flower, book, hill, bench, countertop, stove, palm, kitchen island, "
    "computer, swivel chair, boat, bar, arcade machine, hovel, bus, towel, light, truck, tower, "
    "chandelier, awning, streetlight, booth, television, airplane, dirt track, "
    "apparel, pole, land, bannister, escalator, ottoman, bottle, buffet, poster, stage, van, "
    "ship, fountain, conveyer belt, canopy, washer, plaything, swimming pool, stool, barrel, "
    "basket, waterfall, tent, bag, minibike, cradle, oven, ball, food, step, tank, trade name, "
    "microwave, pot, animal, bicycle, lake, dishwasher, screen, blanket, sculpture, hood, "
    "sconce, vase, traffic light, tray, ashcan, fan, pier, crt screen, plate, monitor, "
    "bulletin board, shower, radiator, glass, clock, flag"
)
_PALETTE_TEXT = (
    "787878 b47878 06e6e6 503232 04c803 787850 8c8c8c cc05ff e6e6e6 04fa07 e005ff ebff07 "
    "96053d 787846 08ff33 ff0652 8fff8c ccff04 ff3307 cc4603 0066c8 3de6fa ff0633 0b66ff "
    "ff0747 ff09e0 0907e6 dcdcdc ff095c 7009ff 08ffd6 07ffe0 ffb806 0aff47 ff290a 07ffff "
    "e0ff08 6608ff ff3d06 ffc207 ff7a08 00ff14 ff0829 ff0599 0633ff eb0cff a09614 00a3ff "
    "8c8c8c fa0a0f 14ff00 1fff00 ff1f00 ffe000 99ff00 0000ff ff4700 00ebff 00adff 1f00ff "
    "0bc8c8 ff5200 00fff5 003dff 00ff70 00ff85 ff0000 ffa300 ff6600 c2ff00 008fff 33ff00 "
    "0052ff 00ff29 00ffad 0a00ff adff00 00ff99 ff5c00 ff00ff ff00f5 ff0066 ffad00 ff0014 "
    "ffb8b8 001fff 00ff3d 0047ff ff00cc 00ffc2 00ff52 000aff 0070ff 3300ff 00c2ff 007aff "
    "00ffa3 ff9900 00ff0a ff7000 8fff00 5200ff a3ff00 ffeb00 08b8aa 8500ff 00ff5c b800ff "
    "ff001f 00b8ff 00d6ff ff0070 5cff00 00e0ff 70e0ff 46b8a0 a300ff 9900ff 47ff00 ff00a3 "
    "ffcc00 ff008f 00ffeb 85ff00 ff00eb f500ff ff007a fff500 0abed4 d6ff00 00ccff 1400ff "
    "ffff00 0099ff 0029ff 00ffcc 2900ff 29ff00 ad00ff 00f5ff 4700ff 7a00ff 00ffb8 005cff "
    "b8ff00 0085ff ffd600 19c2c2 66ff00 5c00ff"
)
NAMES = tuple(_NAMES_TEXT.split(", "))
PALETTE = tuple(_PALETTE_TEXT.split())
ADE_CLASSES: tuple[ClassInfo, ...] = tuple(
    ClassInfo(name, (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)))
    for name, h in zip(NAMES, PALETTE, strict=True)
)
FOLDER = "ADEChallengeData2016"
# Splits made before class 90 took objectInfo150's first name still name it so; they stay usable.
LEGACY_CLASSES: tuple[ClassInfo, ...] = tuple(
    ClassInfo("television receiver", c.color) if i == 89 else c for i, c in enumerate(ADE_CLASSES)
)
LABEL_CODING = LabelCoding(
    "ADE20K",
    (("other", (0, 0, 0)), *((c.name, c.color) for c in ADE_CLASSES)),
    f"use the annotation PNGs of {FOLDER}/annotations (class values 0..150)",
)


def full_release(root: Path) -> Path | None:
    """The folder of a full ADE20K release (ADE20K_2021_17_01 layout) at or under `root`."""
    candidates = [root, *sorted(p for p in root.glob("ADE20K_*") if p.is_dir())]
    for folder in candidates:
        markers = ("index_ade20k.pkl", "index_ade20k.mat", "objects.txt")
        if folder.name.startswith("ADE20K_") or (folder / "images" / "ADE").is_dir():
            return folder
        if any((folder / m).is_file() for m in markers):
            return folder
    return None


class ADE20KSource(FilePairSource):
    """ADE20K SceneParsing (150 classes); `root` is ADEChallengeData2016 or its parent."""

    name = "ade20k"
    subsets = ("training", "validation")
    classes = ADE_CLASSES
    label_coding = LABEL_CODING

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        if (root / FOLDER).is_dir():
            root = root / FOLDER
        elif (full := full_release(root)) is not None:
            raise UserError(
                f"{full}: this is the full ADE20K release (the ADE20K_2021_17_01 layout); only "
                f"the SceneParsing benchmark layout {FOLDER} (150 classes) is supported"
            )
        super().__init__(root)
        for sub in ("images", "annotations"):
            if not (root / sub).is_dir():
                raise UserError(
                    f"{root / sub}: folder not found (expected {FOLDER}/images/{{training,"
                    f"validation}} and {FOLDER}/annotations/{{training,validation}})"
                )
        self._lut = np.concatenate([[IGNORE_INDEX], np.arange(150)]).astype(np.int64)

    def accepts_classes(self, classes: tuple[ClassInfo, ...]) -> bool:
        """The 150 classes, also as named before class 90 became "television"."""
        return tuple(classes) in (ADE_CLASSES, LEGACY_CLASSES)

    def default_size(self) -> tuple[int, int]:
        """ADE20K images vary in size; splits default to 256x256."""
        return (256, 256)

    def _scan(self, subset: str | None) -> dict[str, tuple[Path | None, Path | None]]:
        photos = stem_table(self.root / "images" / str(subset), (".jpg", ".jpeg", ".png"))
        labels = stem_table(self.root / "annotations" / str(subset), (".png",))
        return join_pairs(photos, labels)

    def _map_label(self, raw: np.ndarray, where: str) -> np.ndarray:
        return apply_lut(
            raw, self._lut, where, "the ADE20K values 0..150 (150 classes, 0 = ignore)"
        )
