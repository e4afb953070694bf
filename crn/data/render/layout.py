"""Random street layouts and lighting for one synthetic scene."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crn.data.render.canvas import Camera


@dataclass(frozen=True)
class Light:
    """Scene lighting and camera response."""

    sun: float  # strength of direct light on sun-facing surfaces
    sun_side: int  # +1: the right-hand façades face the sun, -1: the left-hand ones
    tint: np.ndarray  # white balance, RGB multipliers, shaped (3, 1, 1)
    exposure: float
    zenith: np.ndarray  # sky colour overhead, (3, 1, 1)
    horizon_sky: np.ndarray  # sky colour at the horizon and haze colour, (3, 1, 1)
    overcast: float  # 0 clear .. 1 grey
    fog: float  # haze distance in camera heights
    noise: float  # sensor noise standard deviation


@dataclass(frozen=True)
class Street:
    """Geometry of the street: road, sidewalks and what lines each side."""

    cam: Camera
    centre: float  # lateral offset of the road's centre line
    road: float  # half-width of the road
    walk: float  # width of each sidewalk
    sides: tuple[str, str]  # left, right: "buildings" or "trees"
    setback: tuple[float, float]  # terrain strip between sidewalk and façade, per side
    markings: bool
    end_wall: float | None  # depth of a building closing the street, or None

    def facade_x(self, side: int) -> float:
        """Lateral offset of the façade line on `side` (-1 left, +1 right)."""
        setback = self.setback[0 if side < 0 else 1]
        return self.centre + side * (self.road + self.walk + setback)


def sample_light(rng: np.random.Generator) -> Light:
    """Draw the lighting: sunny to overcast, warm to cool, with haze and sensor noise."""
    overcast = float(rng.uniform(0.0, 1.0) ** 1.5)
    warm = rng.uniform(-1.0, 1.0)
    tint = np.array([1.0 + 0.06 * warm, 1.0, 1.0 - 0.07 * warm], np.float32)
    clear_zenith = np.array([0.30, 0.50, 0.85]) * rng.uniform(0.85, 1.1)
    grey = np.array([0.68, 0.70, 0.73]) * rng.uniform(0.85, 1.1)
    zenith = (1 - overcast) * clear_zenith + overcast * grey
    horizon_sky = np.clip(zenith * 0.35 + np.array([0.62, 0.66, 0.70]), 0, 1)
    return Light(
        sun=float(1.0 - 0.55 * overcast),
        sun_side=int(rng.choice([-1, 1])),
        tint=tint.reshape(3, 1, 1),
        exposure=float(rng.uniform(0.85, 1.12)),
        zenith=zenith.astype(np.float32).reshape(3, 1, 1),
        horizon_sky=horizon_sky.astype(np.float32).reshape(3, 1, 1),
        overcast=overcast,
        fog=float(rng.uniform(120.0, 600.0)),
        noise=float(rng.uniform(0.006, 0.025)),
    )


def sample_street(rng: np.random.Generator, height: int, width: int) -> Street:
    """Draw the camera and the street layout for an image of (height, width)."""
    horizon = height * rng.uniform(0.36, 0.5)
    cam = Camera(
        height=height,
        width=width,
        horizon=float(horizon),
        vanish_x=float(width * rng.uniform(0.4, 0.6)),
        z0=float(width * rng.uniform(0.7, 0.9) / (height - horizon)),
    )
    sides = tuple(str(rng.choice(["buildings", "trees"], p=[0.75, 0.25])) for _ in range(2))
    return Street(
        cam=cam,
        centre=float(rng.uniform(-0.4, 0.4)),
        road=float(rng.uniform(1.2, 2.3)),
        walk=float(rng.uniform(0.7, 1.6)),
        sides=(sides[0], sides[1]),
        setback=(float(rng.uniform(0, 1.2) ** 2), float(rng.uniform(0, 1.2) ** 2)),
        markings=bool(rng.random() < 0.8),
        end_wall=float(rng.uniform(150, 500)) if rng.random() < 0.5 else None,
    )
