"""`render_scene`: one synthetic street scene, its label map and its photo, from a seed."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from crn.data.render.background import paint_end_wall, paint_ground, paint_sides, paint_sky
from crn.data.render.canvas import Canvas
from crn.data.render.layout import Light, sample_light, sample_street
from crn.data.render.noise import NoiseBank
from crn.data.render.objects import PAINTERS, sample_things
from crn.errors import UserError

MIN_SIZE = 8


def _haze(canvas: Canvas, light: Light) -> None:
    """Blend distant surfaces toward the horizon colour (aerial perspective)."""
    amount = 1.0 - np.exp(canvas.depth * np.float32(-1.0 / light.fog))
    canvas.color += (light.horizon_sky - canvas.color) * amount


def _camera_response(color: np.ndarray, light: Light, rng: np.random.Generator) -> np.ndarray:
    """Exposure, white balance, vignetting, sensor noise and lens blur; to (H, W, 3) uint8.

    The [1 2 1] blur comes last, as demosaicing would: it softens aliased edges and
    correlates the noise between neighbouring pixels, as in real camera images.
    """
    _, height, width = color.shape
    yy = (np.arange(height, dtype=np.float32)[:, None] + 0.5) / height - 0.5
    xx = (np.arange(width, dtype=np.float32)[None, :] + 0.5) / width - 0.5
    image = color * (1.0 - 0.35 * (xx * xx + yy * yy))
    image *= light.exposure * light.tint * np.float32(255.0)
    luma = image[0] * np.float32(0.3) + image[1] * np.float32(0.6) + image[2] * np.float32(0.1)
    np.clip(luma, 0.0, 255.0, out=luma)
    # shot noise grows with brightness; uniform noise of unit variance is cheaper than normal;
    # / 0.375 undoes the blur's reduction of the noise's standard deviation
    amp = np.sqrt(luma * np.float32(1.0 / 255.0)) + np.float32(0.5)
    amp *= np.float32(light.noise * 255.0 * 12**0.5 / 0.375)
    noise = rng.random((3, height, width), dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= amp
    image += noise
    image += np.float32(0.5)
    np.clip(image, 0.0, 255.0, out=image)
    rgb8 = Image.fromarray(np.ascontiguousarray(image.astype(np.uint8).transpose(1, 2, 0)))
    return np.asarray(rgb8.filter(ImageFilter.BoxBlur(0.5)))


def render_scene(seed: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Render the street scene of `seed` at `size` = (H, W): (label int64 (H, W), photo uint8).

    Pure: the same seed and size give the same arrays. Every label pixel holds the class
    whose surface was painted there.
    """
    height, width = int(size[0]), int(size[1])
    if height < MIN_SIZE or width < MIN_SIZE:
        raise UserError(f"synthetic scene size {height}x{width} is too small (min {MIN_SIZE})")
    rng = np.random.default_rng(seed)
    street = sample_street(rng, height, width)
    light = sample_light(rng)
    things = sample_things(rng, street)
    bank = NoiseBank(rng, height, width)
    canvas = Canvas(height, width)
    paint_sky(canvas, street, light, bank)
    paint_ground(canvas, street, light, bank, rng)
    paint_end_wall(canvas, street, light, rng)
    paint_sides(canvas, street, light, bank, rng)
    for thing in things:
        PAINTERS[thing.kind](canvas, street, light, thing)
    _haze(canvas, light)
    photo = _camera_response(canvas.color, light, rng)
    return canvas.label.astype(np.int64), photo
