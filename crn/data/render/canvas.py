"""The paint canvas (label, colour and depth painted together) and the street's perspective.

Every paint call writes the class and the colour through the same mask, so the label map is
exactly the class painted at each pixel. Colours are planar (3, H, W) float32 in [0, 1]:
masks then broadcast over the leading axis, which numpy does many times faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SKY_DEPTH = 0.0  # the sky gets no haze (see scene._haze)

Box = tuple[int, int, int, int]  # (y0, y1, x0, x1), a window of the image


def rgb(r: float, g: float, b: float) -> np.ndarray:
    """A colour shaped (3, 1, 1), to broadcast against planar images."""
    return np.array([r, g, b], np.float32).reshape(3, 1, 1)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera at height 1 over flat ground, looking down a straight street.

    World units are camera heights. Closeness s = z0 / depth is 1 where the ground meets
    the bottom image row.
    """

    height: int
    width: int
    horizon: float  # image row of the horizon
    vanish_x: float  # image column of the vanishing point
    z0: float  # depth of the bottom row's ground point, in camera heights

    @property
    def px(self) -> float:
        """Pixels per world unit at closeness 1."""
        return self.height - self.horizon

    def ground_row(self, s: float) -> float:
        """Image row where the ground at closeness `s` appears."""
        return self.horizon + s * self.px

    def row_of(self, s: float, h: float) -> float:
        """Image row of a point at height `h` and closeness `s`."""
        return self.horizon + (1.0 - h) * s * self.px

    def col_of(self, s: float, x: float) -> float:
        """Image column of a point at lateral offset `x` and closeness `s`."""
        return self.vanish_x + x * s * self.px


class Canvas:
    """Label map, planar RGB image and depth buffer of one scene, painted in layers."""

    def __init__(self, height: int, width: int) -> None:
        self.label = np.zeros((height, width), np.uint8)
        self.color = np.zeros((3, height, width), np.float32)
        self.depth = np.full((height, width), SKY_DEPTH, np.float32)

    def paint(
        self, cls: int, mask: np.ndarray, color: np.ndarray, depth: float | np.ndarray, box: Box
    ) -> None:
        """Paint class `cls` with `color` (broadcastable to (3, h, w)) where `mask` holds.

        `mask`, `color` and `depth` cover the window `box` = (y0, y1, x0, x1).
        """
        y0, y1, x0, x1 = box
        np.copyto(self.label[y0:y1, x0:x1], np.uint8(cls), where=mask)
        np.copyto(self.color[:, y0:y1, x0:x1], color, where=mask, casting="same_kind")
        np.copyto(self.depth[y0:y1, x0:x1], depth, where=mask, casting="same_kind")

    def paint_rows(self, label: np.ndarray, color: np.ndarray, depth: np.ndarray, y0: int) -> None:
        """Overwrite every row from `y0` down with the given label, colour and depth."""
        self.label[y0:] = label
        self.color[:, y0:] = color
        self.depth[y0:] = depth

    def shade(self, mask: np.ndarray, factor: np.ndarray, box: Box) -> None:
        """Multiply the colour (never the label) by `factor` where `mask` holds (shadows)."""
        y0, y1, x0, x1 = box
        window = self.color[:, y0:y1, x0:x1]
        np.multiply(window, factor, out=window, where=mask)


def clip_box(cam: Camera, top: float, bottom: float, left: float, right: float) -> Box | None:
    """Integer window (y0, y1, x0, x1) of a float box, clipped to the image; None if empty."""
    y0, y1 = max(0, int(np.floor(top))), min(cam.height, int(np.ceil(bottom)))
    x0, x1 = max(0, int(np.floor(left))), min(cam.width, int(np.ceil(right)))
    if y1 <= y0 or x1 <= x0:
        return None
    return y0, y1, x0, x1


def box_grid(box: Box) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre row and column coordinates of a window, shaped (h, 1) and (1, w)."""
    y0, y1, x0, x1 = box
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    return ys, xs
