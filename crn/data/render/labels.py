"""The synthetic source's classes: indices and names, drawn in the Cityscapes colours."""

from __future__ import annotations

from crn.data.classes import ClassInfo

ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR = range(10)

SYNTH_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo("road", (128, 64, 128)),
    ClassInfo("sidewalk", (244, 35, 232)),
    ClassInfo("building", (70, 70, 70)),
    ClassInfo("pole", (153, 153, 153)),
    ClassInfo("traffic sign", (220, 220, 0)),
    ClassInfo("vegetation", (107, 142, 35)),
    ClassInfo("terrain", (152, 251, 152)),
    ClassInfo("sky", (70, 130, 180)),
    ClassInfo("person", (220, 20, 60)),
    ClassInfo("car", (0, 0, 142)),
)
