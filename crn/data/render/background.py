"""Sky, ground (road, sidewalks, terrain) and the façades or tree lines along the street."""

from __future__ import annotations

import numpy as np

from crn.data.render import labels as L
from crn.data.render.canvas import Canvas, rgb
from crn.data.render.layout import Light, Street
from crn.data.render.noise import NoiseBank, frac, hash01, smoothstep

MIN_S = 1e-3  # closeness floor near the horizon, where depth tends to infinity


def paint_sky(canvas: Canvas, street: Street, light: Light, bank: NoiseBank) -> None:
    """Vertical gradient with procedural clouds over every row down to the horizon."""
    cam = street.cam
    rows = min(cam.height, int(np.ceil(cam.horizon)) + 1)
    t = (np.arange(rows, dtype=np.float32)[:, None] + 0.5) / max(cam.horizon, 1.0)
    t = np.clip(t, 0.0, 1.0) ** 0.6
    base = light.zenith + (light.horizon_sky - light.zenith) * t
    lo = 0.25 - 0.5 * light.overcast
    cover = smoothstep(lo, lo + 0.5 + 0.2 * light.overcast, bank.coarse[:rows])
    cloud = rgb(0.93, 0.93, 0.95) * (0.85 + 0.15 * bank.medium[:rows])
    color = base + (cloud - base) * cover
    canvas.paint(L.SKY, np.ones((rows, cam.width), bool), color, 0.0, (0, rows, 0, cam.width))


def _tiles(a: np.ndarray, b: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Grout-line mask and a per-tile pseudo-random value for square tiles of `size`."""
    fa, fb = a / size, b / size
    ia, ib = np.floor(fa), np.floor(fb)
    ea, eb = fa - ia, fb - ib
    edge = np.minimum(np.minimum(ea, 1 - ea), np.minimum(eb, 1 - eb))
    return edge < 0.05, hash01(ia, ib)


def paint_ground(canvas: Canvas, street: Street, light: Light, bank: NoiseBank, rng) -> None:
    """Road with markings, paved sidewalks with curbs, and grass beyond them."""
    cam = street.cam
    y0 = int(np.floor(cam.horizon))
    ys = np.arange(y0, cam.height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(cam.width, dtype=np.float32)[None, :] + 0.5
    s = np.maximum((ys - cam.horizon) / cam.px, MIN_S)
    d = np.abs((xs - cam.vanish_x) / (s * cam.px) - street.centre)
    depth = np.broadcast_to(cam.z0 / s, d.shape)
    is_road = d < street.road
    is_walk = ~is_road & (d < street.road + street.walk)
    fine = bank.grain[y0:] * np.clip(s * 1.5, 0.15, 1.0)
    grout, tile = _tiles(d - street.road, depth, rng.uniform(0.45, 0.8))
    walk_b = np.where(grout, 0.78, 0.94 + 0.1 * tile) * np.where(d - street.road < 0.12, 1.12, 1)
    grass_b = 1.0 + 0.3 * bank.fine[y0:] + 0.12 * fine
    bright = np.where(is_road, 1.0, np.where(is_walk, walk_b, grass_b))
    bright *= (1.0 + 0.07 * bank.medium[y0:] + 0.09 * fine) * (0.75 + 0.3 * light.sun)
    asphalt = rgb(1.0, 1.0, rng.uniform(1.0, 1.08)) * rng.uniform(0.26, 0.4)
    paving = rgb(1.0, rng.uniform(0.94, 1.0), rng.uniform(0.86, 1.0)) * rng.uniform(0.5, 0.68)
    grass = rgb(rng.uniform(0.25, 0.4), rng.uniform(0.38, 0.5), rng.uniform(0.12, 0.22))
    color = np.where(is_road, asphalt, np.where(is_walk, paving, grass)) * bright
    if street.markings:
        centre = (d < 0.06) & (frac(depth / 6.0) < 0.45)
        lines = (centre | (np.abs(d - (street.road - 0.2)) < 0.05)) & is_road
        np.copyto(color, 0.82 * (0.92 + 0.08 * fine), where=lines)
    label = np.where(is_road, L.ROAD, np.where(is_walk, L.SIDEWALK, L.TERRAIN)).astype(np.uint8)
    canvas.paint_rows(label, color, depth, y0)


FACADE_COLORS = np.array(
    [
        [0.62, 0.55, 0.48],
        [0.55, 0.36, 0.28],
        [0.72, 0.70, 0.64],
        [0.45, 0.45, 0.47],
        [0.78, 0.68, 0.52],
        [0.58, 0.60, 0.62],
        [0.40, 0.30, 0.26],
        [0.80, 0.78, 0.74],
    ],
    np.float32,
)


def _buildings_along(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Building segments along one side: depth ranges, heights, colours, window grids."""
    # 300 segments of at least 2 units always reach past the 2000 units considered
    gap = rng.random(300) < 0.18
    widths = np.where(gap, rng.uniform(2.0, 7.0, 300), rng.uniform(6.0, 22.0, 300))
    first = rng.uniform(-6.0, 3.0)
    ends = first + np.cumsum(widths)
    n = int(np.searchsorted(ends, 2000.0)) + 1
    ends, gap = ends[:n].astype(np.float32), gap[:n].copy()
    ends[-1], gap[-1] = np.inf, False
    starts = np.concatenate([[first], ends[:-1]]).astype(np.float32)
    return {
        "end": ends,
        "start": starts,
        "gap": gap,
        "height": rng.uniform(4.0, 16.0, n).astype(np.float32),
        "color": (
            FACADE_COLORS[rng.integers(0, len(FACADE_COLORS), n)].T
            * rng.uniform(0.85, 1.12, n).astype(np.float32)
        ),
        "floor": rng.uniform(1.8, 2.5, n).astype(np.float32),
        "spacing": rng.uniform(1.4, 2.6, n).astype(np.float32),
        "win_w": rng.uniform(0.35, 0.65, n).astype(np.float32),
        "win_h": rng.uniform(0.4, 0.62, n).astype(np.float32),
        "glass": rng.uniform(0.12, 0.32, n).astype(np.float32),
        "shop": rng.random(n) < 0.5,
    }


def _side_columns(street: Street, side: int) -> tuple[int, int, np.ndarray]:
    """Column range of one side and each column's closeness to that side's façade line."""
    cam = street.cam
    c = int(np.floor(cam.vanish_x))
    x0, x1 = (c + 1, cam.width) if side > 0 else (0, c)
    xs = np.arange(x0, x1, dtype=np.float32) + 0.5
    s = np.maximum((xs - cam.vanish_x) / (street.facade_x(side) * cam.px), MIN_S)
    return x0, x1, s


def _wall_rows(street: Street, s: np.ndarray, top_h: np.ndarray):
    """Rows spanned by a vertical wall of height `top_h` per column, and its masks/heights."""
    cam = street.cam
    top = cam.horizon + (1 - top_h) * s * cam.px
    bottom = cam.horizon + s * cam.px
    y0, y1 = max(0, int(np.floor(top.min()))), min(cam.height, int(np.ceil(bottom.max())))
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    h = 1 - (ys - cam.horizon) / (s * cam.px)  # height above ground of each pixel
    return y0, y1, (ys >= top) & (ys < bottom), h


def _windows(b: dict[str, np.ndarray], seg, h, along, light: Light):
    """Window mask and glass colours: sky reflections and some lit rooms."""
    fy, fx = frac(h / b["floor"][seg]), frac(along / b["spacing"][seg])
    win_h = b["win_h"][seg]
    win = (h > b["floor"][seg]) & (h < b["height"][seg] - 0.6) & (fy > 0.25) & (fy < 0.25 + win_h)
    win &= np.abs(fx - 0.5) < b["win_w"][seg] / 2
    lit = hash01(np.floor(h / b["floor"][seg]), np.floor(along / b["spacing"][seg])) > 0.93
    glass = b["glass"][seg] * (0.7 + 0.6 * np.clip((fy - 0.25) / win_h, 0, 1))
    color = np.where(lit, rgb(0.85, 0.72, 0.45), glass * (0.6 * light.horizon_sky + 0.4))
    return win, color


def _paint_facades(canvas, street, light, bank, rng, side, cols) -> None:
    """Building façades on one side, in perspective, with floors of windows and shops."""
    x0, x1, s = cols
    b = _buildings_along(rng)
    t_col = street.cam.z0 / s
    seg = np.searchsorted(b["end"], t_col, side="right")
    y0, y1, mask, h = _wall_rows(street, s, b["height"][seg])
    if y1 <= y0:
        return
    mask &= ~b["gap"][seg]
    along = t_col - b["start"][seg]
    shade = 0.6 + (0.45 if side == light.sun_side else 0.1) * light.sun
    tex = 1 + 0.06 * bank.medium[y0:y1, x0:x1] + 0.04 * bank.grain[y0:y1, x0:x1]
    tex *= np.where(h > b["height"][seg] - 0.3, 0.8, 1.0) * (0.82 + 0.18 * smoothstep(0, 0.5, h))
    color = b["color"][:, None, seg] * (tex * shade)
    win, glass = _windows(b, seg, h, along, light)
    np.copyto(color, glass * (0.8 + 0.2 * shade), where=win)
    shop = b["shop"][seg] & (h > 0.08) & (h < b["floor"][seg] * 0.8)
    shop &= np.abs(frac(along / b["spacing"][seg]) - 0.5) < 0.44
    np.copyto(color, 0.18 * (0.5 + light.horizon_sky), where=shop)
    canvas.paint(L.BUILDING, mask, color, t_col[None, :], (y0, y1, x0, x1))


def _paint_treeline(canvas, street, light, bank, rng, side, cols) -> None:
    """A continuous line of trees and hedges along one side, with a lumpy top."""
    x0, x1, s = cols
    t_col = street.cam.z0 / s
    knots = np.arange(-10.0, 2010.0, 3.0)
    top_h = np.interp(t_col, knots, rng.uniform(2.5, 7.0, len(knots))).astype(np.float32)
    y0, y1, mask, h = _wall_rows(street, s, top_h)
    if y1 <= y0:
        return
    leaves = 0.6 + 0.3 * bank.fine[y0:y1, x0:x1] + 0.12 * bank.grain[y0:y1, x0:x1]
    bright = leaves * (0.6 + 0.45 * np.clip(h / top_h, 0, 1)) * (0.65 + 0.35 * light.sun)
    green = rgb(rng.uniform(0.2, 0.32), rng.uniform(0.34, 0.46), rng.uniform(0.1, 0.2))
    canvas.paint(L.VEGETATION, mask, green * bright, t_col[None, :], (y0, y1, x0, x1))


def paint_sides(canvas: Canvas, street: Street, light: Light, bank: NoiseBank, rng) -> None:
    """Façades or tree lines along both sides of the street."""
    for index, side in enumerate((-1, 1)):
        cols = _side_columns(street, side)
        if cols[1] <= cols[0]:
            continue
        paint = _paint_facades if street.sides[index] == "buildings" else _paint_treeline
        paint(canvas, street, light, bank, rng, side, cols)


def paint_end_wall(canvas: Canvas, street: Street, light: Light, rng) -> None:
    """A building facing the camera that closes the far end of the street."""
    if street.end_wall is None:
        return
    cam = street.cam
    s = cam.z0 / street.end_wall
    left, right = cam.col_of(s, street.facade_x(-1)), cam.col_of(s, street.facade_x(1))
    top, bottom = cam.row_of(s, rng.uniform(4.0, 14.0)), cam.ground_row(s)
    y0, y1 = max(0, int(np.floor(top))), min(cam.height, int(np.ceil(bottom)))
    x0, x1 = max(0, int(np.floor(left))), min(cam.width, int(np.ceil(right)))
    if y1 <= y0 or x1 <= x0:
        return
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    h = 1 - (ys - cam.horizon) / (s * cam.px)
    fy, fx = frac(h / 2.1), frac((xs - cam.vanish_x) / (s * cam.px) / 1.8)
    win = (fy > 0.35) & (fy < 0.8) & (fx < 0.5) & (h > 2)
    base = FACADE_COLORS[rng.integers(0, len(FACADE_COLORS))].reshape(3, 1, 1)
    color = np.where(win, base * 0.35, base) * np.float32(0.6 + 0.3 * light.sun)
    mask = (ys >= top) & (ys < bottom) & (xs >= left) & (xs < right)
    canvas.paint(L.BUILDING, mask, color, street.end_wall, (y0, y1, x0, x1))
