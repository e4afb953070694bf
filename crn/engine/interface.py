"""The contract between the trainer and a generator model (CRN and every baseline).

A model is an `nn.Module` built from a frozen dataclass of constructor arguments. It names
its optimisation phases; the trainer owns the optimisers (one per phase), runs the phases in
order every step, and checkpoints everything. Models only compute named losses.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from crn.errors import UserError

Batch = dict[str, Any]


@dataclass(frozen=True)
class Phase:
    """One optimisation phase of a training step: what it optimises and with which Adam.

    `modules` are dotted submodule names of the model (e.g. "generator", "discriminator",
    "generator.blocks.7"); the phase's optimiser gets their parameters with requires_grad.
    `decay_start` is None for a constant learning rate, or the fraction of the total steps
    after which the rate decays linearly to zero at the last step (pix2pix: 0.5).
    """

    name: str
    modules: tuple[str, ...]
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    decay_start: float | None = None


class GeneratorModel(nn.Module):
    """Base class of every trainable generator; subclasses set `name` and `Args`."""

    name: ClassVar[str] = ""
    Args: ClassVar[type] = object

    def __init__(self, args: Any) -> None:
        super().__init__()
        self.args = args

    # -- what the model is -------------------------------------------------------------
    @property
    def num_outputs(self) -> int:
        """How many images `generate` returns per label map (k)."""
        raise NotImplementedError

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the images the model generates: its Args' `size`."""
        return tuple(self.args.size)

    def generate(self, label: torch.Tensor) -> torch.Tensor:
        """Images for a one-hot label batch [B,C+1,H,W]: [B,k,3,H,W] in [0,1], clipped.

        Called by the trainer and `crnkit generate` in eval mode under torch.no_grad.
        """
        raise NotImplementedError

    def generation_dropout(self) -> bool | None:
        """Whether `generate` keeps dropout active (None: the model has no dropout)."""
        return None

    def set_generation_dropout(self, enabled: bool) -> None:
        """Keep dropout on (a source of noise) or off in `generate`."""
        if enabled:
            raise UserError(f"model '{self.name}' has no dropout to keep on at generation")

    # -- how it trains -----------------------------------------------------------------
    def phases(self) -> list[Phase]:
        """The ordered optimisation phases of one training step."""
        raise NotImplementedError

    def phase_losses(self, phase: str, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """Losses of `phase` on `batch` (tensors already on the model's device).

        Must contain "total" (the scalar the trainer back-propagates); other entries are
        logged. Losses are means over the batch so that data-parallel averaging is exact.
        """
        raise NotImplementedError

    def forward(self, phase: str, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """Alias of `phase_losses`, so that DistributedDataParallel can wrap the model."""
        return self.phase_losses(phase, batch, step)

    # -- optional hooks ----------------------------------------------------------------
    def initialize(self) -> None:
        """Called once when a fresh run starts (not on resume): e.g. load `--init-from` weights."""

    def prepare_training(self) -> None:
        """Build what only training needs (e.g. load VGG-19); called once before training."""

    def calibration_due(self, step: int) -> bool:
        """True when `calibrate` must run after `step` training steps (0: before the first)."""
        return False

    def calibrate(self, batches: Iterable[Batch], step: int) -> dict[str, Any]:
        """Set automatic loss weights from the first training batches, with the model as it
        is after `step` steps; return what was set (logged in metrics.jsonl)."""
        return {}

    def checkpoint_exclude(self) -> tuple[str, ...]:
        """State-dict key prefixes not stored in checkpoints (frozen, externally loaded nets)."""
        return ()

    def metadata(self) -> dict[str, Any]:
        """JSON-able facts recorded in checkpoints and image sets (e.g. {"vgg_weights": ...})."""
        return {}

    # -- construction from the command line ------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this model's own options to `crnkit train MODEL`."""

    @classmethod
    def args_from_namespace(cls, ns: argparse.Namespace, splits: Any) -> Any:
        """Build `Args` from parsed options and the `Splits` (label channels, image size)."""
        raise NotImplementedError

    @classmethod
    def from_args(cls, args: Any) -> GeneratorModel:
        """Construct the model from its `Args`."""
        return cls(args)

    @classmethod
    def args_from_dict(cls, data: dict[str, Any]) -> Any:
        """Rebuild `Args` from `args_to_dict` output (nested dataclasses, lists to tuples)."""
        return dataclass_from_dict(cls.Args, data)

    def args_to_dict(self) -> dict[str, Any]:
        """The constructor arguments as a plain dict (stored in checkpoints)."""
        return dataclasses.asdict(self.args)


def dataclass_from_dict(kind: type, data: dict[str, Any]) -> Any:
    """Rebuild a (possibly nested) frozen dataclass from `dataclasses.asdict` output."""
    hints = typing.get_type_hints(kind)
    values = {}
    for item in dataclasses.fields(kind):
        if item.name not in data:
            continue
        value = data[item.name]
        nested = _dataclass_in(hints.get(item.name))
        values[item.name] = (
            dataclass_from_dict(nested, value)
            if nested and isinstance(value, dict)
            else _tuplify(value)
        )
    return kind(**values)


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass type named by a type hint (also inside `X | None`), if any."""
    candidates = typing.get_args(hint) or (hint,)
    for candidate in candidates:
        if dataclasses.is_dataclass(candidate) and isinstance(candidate, type):
            return candidate
    return None


def _tuplify(value: Any) -> Any:
    """Lists (from JSON or checkpoints) back to tuples, recursively, for frozen dataclasses."""
    if isinstance(value, list | tuple):
        return tuple(_tuplify(v) for v in value)
    return value
