"""Command-line plumbing shared by the baseline models: widths, Adam, sizes, validation."""

from __future__ import annotations

import argparse
from typing import Any

from baselines.label_input import palette_of
from baselines.unet import max_downsamplings
from crn.errors import UserError


def check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise ValueError unless `value` is one of `allowed`."""
    if value not in allowed:
        raise ValueError(f"unknown {what} '{value}' (expected one of {', '.join(allowed)})")


def check_size(size: tuple[int, int], min_down: int = 0, min_side: int = 1) -> None:
    """Raise ValueError unless `size` is (H, W) ≥ `min_side` allowing `min_down` halvings."""
    if len(size) != 2 or min(size) < min_side:
        raise ValueError(f"image size {size[0]}x{size[1]}: both sides must be at least {min_side}")
    if max_downsamplings(*size) < min_down:
        raise ValueError(
            f"image size {size[0]}x{size[1]} allows {max_downsamplings(*size)} halvings, "
            f"this network needs at least {min_down} (use sides divisible by {2**min_down})"
        )


def scaled(base: int, width: float) -> int:
    """`base` channels times the width multiplier, at least 1."""
    return max(1, round(base * width))


def non_negative(flag: str, value: float) -> float:
    """Return `value`, or raise UserError naming `flag` when it is negative."""
    if value < 0:
        raise UserError(f"{flag} must be ≥ 0, got {value}")
    return value


def add_width(group: Any, meaning: str) -> None:
    """The `--width` multiplier every baseline has (1 = paper size)."""
    group.add_argument(
        "--width",
        type=positive_float,
        default=1.0,
        help=f"channel multiplier, 1 = paper size; {meaning} (e.g. 0.25 for a quick CPU run)",
    )


def add_adam(group: Any, lr: float, beta1: float, decay_start: float | None) -> None:
    """`--lr`, `--beta1` and `--decay-start` with the model's paper defaults."""
    group.add_argument("--lr", type=positive_float, default=lr, help=f"Adam rate (default {lr})")
    group.add_argument("--beta1", type=float, default=beta1, help=f"Adam β1 (default {beta1})")
    group.add_argument(
        "--decay-start",
        type=_fraction_or_none,
        default=decay_start,
        help="fraction of the steps after which the rate decays linearly to zero, or 'none' "
        f"for a constant rate (default {decay_start})",
    )


def from_splits(ns: argparse.Namespace, splits: Any) -> tuple[tuple[int, int], int]:
    """(size, label channels) of the run: the splits' size unless --size overrides it."""
    size = getattr(ns, "size", None) or tuple(splits.size)
    return (int(size[0]), int(size[1])), int(splits.num_label_channels)


def palette(splits: Any) -> tuple[tuple[int, int, int], ...]:
    """The splits' class colours plus the void colour, one per label channel."""
    return palette_of(splits.classes, int(splits.num_label_channels))


def build(cls: type, **kwargs: Any) -> Any:
    """Construct an Args dataclass, turning its validation errors into one-line UserErrors."""
    try:
        return cls(**kwargs)
    except ValueError as err:
        raise UserError(str(err)) from None


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def _fraction_or_none(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in [0, 1) or 'none', got '{text}'"
        ) from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1) or 'none', got {value}")
    return value
