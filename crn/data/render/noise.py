"""Noise fields for procedural textures: smooth value noise, fractal noise and grain."""

from __future__ import annotations

import numpy as np
from PIL import Image


def upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic upsampling of a small float grid to (height, width), float32 (in C via PIL)."""
    img = Image.fromarray(np.ascontiguousarray(grid, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)


def _grid_shape(height: int, width: int, cells: float) -> tuple[int, int]:
    scale = max(height, width) / max(cells, 1.0)
    return max(2, int(np.ceil(height / scale)) + 1), max(2, int(np.ceil(width / scale)) + 1)


def value_noise(rng: np.random.Generator, height: int, width: int, cells: float) -> np.ndarray:
    """Smooth noise in about [-1, 1] with `cells` random values across the longer side."""
    gh, gw = _grid_shape(height, width, cells)
    return upsample(rng.uniform(-1.0, 1.0, size=(gh, gw)).astype(np.float32), height, width)


def fbm(
    rng: np.random.Generator, height: int, width: int, cells: float, octaves: int = 3
) -> np.ndarray:
    """Fractal value noise (octaves at gain 1/2) in about [-1, 1].

    The octaves are summed on the finest octave's small grid and upsampled once, so the
    cost at full resolution is one resize whatever the number of octaves.
    """
    gh, gw = _grid_shape(height, width, cells * 2 ** (octaves - 1))
    total = np.zeros((gh, gw), np.float32)
    amp, norm = 1.0, 0.0
    for i in range(octaves):
        oh, ow = _grid_shape(height, width, cells * 2**i)
        grid = rng.uniform(-1.0, 1.0, size=(oh, ow)).astype(np.float32)
        total += amp * (grid if (oh, ow) == (gh, gw) else upsample(grid, gh, gw))
        norm += amp
        amp *= 0.5
    return upsample(total / norm, height, width)


def grain(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Per-pixel white noise in [-1, 1], float32 (fine texture grain)."""
    out = rng.random((height, width), dtype=np.float32)
    out *= 2.0
    out -= 1.0
    return out


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at `edge0` to 1 at `edge1`."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def frac(x: np.ndarray) -> np.ndarray:
    """Fractional part, x - floor(x) (much faster than `x % 1.0` in numpy)."""
    return x - np.floor(x)


def hash01(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A cheap deterministic pseudo-random value in [0, 1) per integer pair (a, b)."""
    return frac(np.sin(a * 12.9898 + b * 78.233) * 43758.5453).astype(np.float32)


class NoiseBank:
    """Full-frame noise fields drawn once per scene; regions use the windows they cover.

    Regions that share a field never overlap on screen in the final image (the sky's clouds
    lie above the horizon, the ground's stains below), so sharing costs no visible repetition.
    """

    def __init__(self, rng: np.random.Generator, height: int, width: int) -> None:
        self.coarse = fbm(rng, height, width, cells=5.0, octaves=4)
        self.medium = fbm(rng, height, width, cells=14.0, octaves=3)
        self.fine = fbm(rng, height, width, cells=40.0, octaves=2)
        self.grain = grain(rng, height, width)
