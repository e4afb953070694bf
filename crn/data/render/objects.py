"""Street objects (cars, people, poles with signs, trees), scaled by depth, painted far to near."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crn.data.render import labels as L
from crn.data.render.canvas import Canvas, box_grid, clip_box, rgb
from crn.data.render.layout import Light, Street
from crn.data.render.noise import grain, value_noise

CAR_COLORS = np.array(
    [
        [0.85, 0.85, 0.86],
        [0.08, 0.08, 0.09],
        [0.55, 0.56, 0.58],
        [0.62, 0.08, 0.07],
        [0.10, 0.20, 0.45],
        [0.30, 0.32, 0.34],
        [0.75, 0.70, 0.55],
        [0.15, 0.35, 0.20],
    ],
    np.float32,
)
CLOTHES = np.array(
    [
        [0.1, 0.1, 0.12],
        [0.15, 0.2, 0.4],
        [0.55, 0.1, 0.1],
        [0.8, 0.8, 0.78],
        [0.35, 0.3, 0.25],
        [0.2, 0.4, 0.25],
        [0.6, 0.5, 0.3],
    ],
    np.float32,
)
SKIN = np.array(
    [[0.93, 0.76, 0.65], [0.78, 0.57, 0.43], [0.55, 0.38, 0.26], [0.36, 0.24, 0.16]], np.float32
)


@dataclass(frozen=True)
class Thing:
    """One object: its kind, lateral offset and depth (camera heights), and its own seed."""

    kind: str
    x: float
    depth: float
    seed: int


class Frame:
    """An object's window on the canvas with local world coordinates (a: across, b: up)."""

    def __init__(self, street: Street, thing: Thing, half_w: float, height: float, below=0.0):
        cam = street.cam
        self.s = cam.z0 / thing.depth
        self.scale = self.s * cam.px  # pixels per world unit at this depth
        self.cx, self.gy = cam.col_of(self.s, thing.x), cam.ground_row(self.s)
        self.box = clip_box(
            cam,
            self.gy - height * self.scale,
            self.gy + below * self.scale,
            self.cx - half_w * self.scale,
            self.cx + half_w * self.scale,
        )
        if self.box is not None:
            ys, xs = box_grid(self.box)
            self.shape = (self.box[1] - self.box[0], self.box[3] - self.box[2])
            zero = np.zeros(self.shape, np.float32)  # full-size arrays keep colours full-size
            self.a = (xs - self.cx) / self.scale + zero
            self.b = (self.gy - ys) / self.scale + zero

    def min_width(self, width: float) -> float:
        """`width` in world units, widened so that it is at least one pixel on screen."""
        return np.maximum(width, 0.5 / self.scale)


def _shadow(canvas: Canvas, fr: Frame, half_w: float, strength: float) -> None:
    """Darken the ground just under an object (contact shadow), leaving labels alone."""
    mask = (np.abs(fr.a) < half_w) & (fr.b < 0.04) & (fr.b > -0.12)
    soft = 1 - strength * (1 - np.clip(np.abs(fr.a) / half_w, 0, 1) ** 4)
    canvas.shade(mask, soft, fr.box)


def _pick(rng: np.random.Generator, table: np.ndarray) -> np.ndarray:
    """One row of a colour table, shaped (3, 1, 1)."""
    return table[rng.integers(0, len(table))].astype(np.float32).reshape(3, 1, 1)


def paint_car(canvas: Canvas, street: Street, light: Light, thing: Thing) -> None:
    """A car seen from behind (or from the front on the oncoming side)."""
    rng = np.random.default_rng(thing.seed)
    w, h = rng.uniform(0.58, 0.68), rng.uniform(0.9, 1.15)
    fr = Frame(street, thing, w + 0.05, h, below=0.15)
    if fr.box is None:
        return
    _shadow(canvas, fr, w + 0.05, 0.55 * light.sun + 0.2)
    a, b = np.abs(fr.a), fr.b
    belt = 0.55 * h
    up = np.clip((b - belt) / (h - belt), 0, 1)
    taper = w * (0.86 - 0.16 * up)
    body = (a < w) & (b >= 0.12) & (b < belt) & ~((a > w - 0.06) & (b > belt - 0.06))
    cabin = (a < taper) & (b >= belt) & (b < h)
    wheels = (a > w - 0.3) & (a < w - 0.04) & (b >= 0) & (b < 0.2)
    ramp = 0.7 + 0.35 * np.clip(b / h, 0, 1) + 0.25 * ((b > belt - 0.08) & (b < belt))
    color = _pick(rng, CAR_COLORS) * (ramp * (0.7 + 0.35 * light.sun))
    glass = cabin & (a < taper - 0.07) & (b < h - 0.07) & (b > belt + 0.05)
    np.copyto(color, 0.08 + 0.25 * light.horizon_sky * up, where=glass)
    front = thing.x < street.centre
    lamps = (a > w - 0.22) & (a < w - 0.05) & (b > 0.36 * h) & (b < 0.46 * h)
    np.copyto(color, rgb(0.95, 0.92, 0.8) if front else rgb(0.8, 0.05, 0.04), where=lamps)
    np.copyto(color, np.float32(0.85), where=(a < 0.16) & (b > 0.2 * h) & (b < 0.3 * h))
    np.copyto(color, np.float32(0.05), where=wheels & ~body)
    canvas.paint(L.CAR, body | cabin | wheels, color, thing.depth, fr.box)


def paint_person(canvas: Canvas, street: Street, light: Light, thing: Thing) -> None:
    """A pedestrian: legs mid-stride, torso, arms and head, in random clothes and skin tone."""
    rng = np.random.default_rng(thing.seed)
    h = rng.uniform(1.0, 1.25)
    fr = Frame(street, thing, 0.25, h, below=0.1)
    if fr.box is None:
        return
    _shadow(canvas, fr, 0.18, 0.45 * light.sun + 0.15)
    a, b = fr.a, fr.b / h
    stride = rng.uniform(0.0, 0.06) * (0.48 - b)
    leg_w = fr.min_width(0.05)
    legs = (np.abs(a - 0.05 - stride) < leg_w) | (np.abs(a + 0.05 + stride) < leg_w)
    legs &= (b >= 0) & (b < 0.48)
    torso = (b >= 0.45) & (b < 0.82) & (np.abs(a) < fr.min_width(0.12 + 0.03 * (b - 0.45)))
    arms = (b >= 0.5) & (b < 0.8) & (np.abs(a) >= 0.12) & (np.abs(a) < 0.17)
    head = (a / 0.06) ** 2 + ((b - 0.9) * h / 0.075) ** 2 < 1
    skin, shirt, trousers = _pick(rng, SKIN), _pick(rng, CLOTHES), _pick(rng, CLOTHES)
    color = np.where(legs, trousers, shirt)
    color = np.where(head, np.where(b > 0.93, skin * 0.3, skin), color)
    side = 1 - 0.35 * np.clip(a * light.sun_side / 0.15, 0, 1)
    color = color * ((0.65 + 0.4 * light.sun) * side)
    canvas.paint(L.PERSON, legs | torso | arms | head, color, thing.depth, fr.box)


def _sign(fr: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mask and colours of a traffic sign plate mounted on a pole."""
    centre, size = rng.uniform(2.3, 3.0), rng.uniform(0.25, 0.38)
    da, db = fr.a, fr.b - centre
    shape = int(rng.integers(0, 3))
    if shape == 0:
        r = np.sqrt(da**2 + db**2) / size
        mask, inner = r < 1, r < 0.75
        face, rim = rgb(0.9, 0.9, 0.9), rgb(0.75, 0.06, 0.06)
    elif shape == 1:
        mask = (np.abs(da) < size) & (np.abs(db) < size)
        inner = (np.abs(da) < size * 0.8) & (np.abs(db) < size * 0.8)
        face, rim = rgb(0.1, 0.25, 0.65), rgb(0.9, 0.9, 0.9)
    else:
        mask = (db > -size) & (db < size) & (np.abs(da) < (size - db) * 0.58)
        inner = (db > -size * 0.7) & (np.abs(da) < (size * 0.8 - db) * 0.5)
        face, rim = rgb(0.95, 0.8, 0.1), rgb(0.8, 0.07, 0.06)
    return mask, np.where(inner, face, rim)


def paint_pole(canvas: Canvas, street: Street, light: Light, thing: Thing) -> None:
    """A metal pole, shaded as a cylinder, sometimes carrying a traffic sign."""
    rng = np.random.default_rng(thing.seed)
    h = rng.uniform(3.5, 6.5)
    fr = Frame(street, thing, 0.45, h, below=0.02)
    if fr.box is None:
        return
    half = fr.min_width(rng.uniform(0.04, 0.07))
    mask = (np.abs(fr.a) < half) & (fr.b >= 0)
    round_ = 1 - 0.5 * np.clip(fr.a * light.sun_side / half, -1, 1) ** 2
    grey = rgb(1.0, 1.0, 1.04) * rng.uniform(0.35, 0.6)
    color = grey * (round_ * (0.7 + 0.35 * light.sun))
    canvas.paint(L.POLE, mask, color, thing.depth, fr.box)
    if rng.random() < 0.55:
        sign_mask, sign_rgb = _sign(fr, rng)
        canvas.paint(L.SIGN, sign_mask, sign_rgb * (0.75 + 0.3 * light.sun), thing.depth, fr.box)


def paint_tree(canvas: Canvas, street: Street, light: Light, thing: Thing) -> None:
    """A tree: a trunk under a lumpy, leafy canopy lit from above."""
    rng = np.random.default_rng(thing.seed)
    radius, crown = rng.uniform(1.0, 2.0), rng.uniform(2.8, 4.5)
    fr = Frame(street, thing, radius * 1.3, crown + radius * 1.2, below=0.02)
    if fr.box is None:
        return
    rows, cols = fr.shape
    r = np.sqrt(fr.a**2 + ((fr.b - crown) / 0.85) ** 2) / radius
    canopy = r < 1 + 0.22 * value_noise(rng, rows, cols, cells=7.0)
    trunk = (np.abs(fr.a) < fr.min_width(0.1 + 0.04 * (1 - fr.b / crown))) & (fr.b >= 0)
    leaves = value_noise(rng, rows, cols, cells=cols / 3 + 4)
    leaves = 0.6 + 0.28 * leaves + 0.15 * grain(rng, rows, cols)
    top_light = 0.7 + 0.45 * np.clip((fr.b - crown) / radius + 0.3, 0, 1) * light.sun
    green = rgb(rng.uniform(0.18, 0.3), rng.uniform(0.32, 0.48), rng.uniform(0.08, 0.18))
    color = green * (leaves * top_light)
    bark = rgb(0.22, 0.18, 0.13) * (0.8 + 0.2 * leaves)
    np.copyto(color, bark, where=trunk & ~canopy)
    canvas.paint(L.VEGETATION, canopy | trunk, color, thing.depth, fr.box)


PAINTERS: dict[str, Callable[[Canvas, Street, Light, Thing], None]] = {
    "car": paint_car,
    "person": paint_person,
    "pole": paint_pole,
    "tree": paint_tree,
}


def _lateral(rng: np.random.Generator, street: Street, place: str) -> float:
    """A lateral offset from the road's centre line for a kind of placement."""
    side = float(rng.choice([-1.0, 1.0]))
    edge, walk = street.road, street.walk
    if place == "lane":
        return side * rng.uniform(0.2, 0.8) * (edge - 0.7)
    if place == "parked":
        return side * (edge - rng.uniform(0.65, 0.75))
    if place == "walk":
        return side * (edge + rng.uniform(0.2, walk - 0.15))
    if place == "kerb":
        return side * (edge + rng.uniform(0.15, 0.35))
    return side * (edge + walk + rng.uniform(-0.3, 0.6))  # verge


# kind, placement, count range [lo, hi), nearest and farthest depth (camera heights)
PLACEMENTS = (
    ("car", "lane", (0, 5), 4.0, 120.0),
    ("car", "parked", (0, 6), 3.0, 100.0),
    ("person", "walk", (0, 7), 3.0, 60.0),
    ("pole", "kerb", (1, 6), 3.0, 120.0),
    ("tree", "verge", (0, 5), 4.0, 120.0),
)


def sample_things(rng: np.random.Generator, street: Street) -> list[Thing]:
    """Draw the scene's objects, sorted far to near so that nearer ones occlude farther ones."""
    things: list[Thing] = []
    for kind, place, (lo, hi), near, far in PLACEMENTS:
        for _ in range(int(rng.integers(lo, hi))):
            # log-uniform depth: as many objects per screen height near and far
            depth = float(np.exp(rng.uniform(np.log(near), np.log(far))))
            seed = int(rng.integers(0, 2**31))
            x = street.centre + _lateral(rng, street, place)
            things.append(Thing(kind, x, depth, seed))
    return sorted(things, key=lambda t: -t.depth)
