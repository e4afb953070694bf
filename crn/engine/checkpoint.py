"""Contract 2 (docs/contracts.md): one checkpoint file, written atomically, rebuilds the model."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from crn.errors import UserError
from crn.fsutil import atomic_open

FORMAT = "crnkit-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint; `weights` excludes frozen external nets (e.g. the VGG)."""

    path: str
    model: str
    model_args: dict[str, Any]
    train_config: dict[str, Any]
    split_sha256: str
    step: int
    epoch: int
    metadata: dict[str, Any]
    last_losses: dict[str, float]
    image_size: tuple[int, int]
    num_outputs: int
    created: str
    weights: dict[str, torch.Tensor] = field(repr=False)
    optimizers: dict[str, Any] = field(repr=False)
    rng: dict[str, Any] = field(repr=False)


def weights_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict on the CPU, without the prefixes it excludes from checkpoints."""
    exclude = tuple(model.checkpoint_exclude())
    return {
        key: value.detach().cpu()
        for key, value in model.state_dict().items()
        if not (exclude and key.startswith(exclude))
    }


def load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Load checkpoint weights; only the excluded prefixes may be missing."""
    exclude = tuple(model.checkpoint_exclude())
    result = model.load_state_dict(weights, strict=False)
    missing = [k for k in result.missing_keys if not (exclude and k.startswith(exclude))]
    if missing or result.unexpected_keys:
        raise UserError(
            f"checkpoint weights do not fit model '{model.name}' (missing: "
            f"{', '.join(missing[:3]) or '-'}; unexpected: "
            f"{', '.join(result.unexpected_keys[:3]) or '-'})"
        )


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write a checkpoint dict through a temp file in the same folder and an atomic rename."""
    payload = {"format": FORMAT, "created": _now(), **payload}
    with atomic_open(path) as fh:
        torch.save(payload, fh)


def _now() -> str:
    """The current UTC time, ISO-8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and validate a checkpoint file (tensors on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"{path}: not a readable crnkit checkpoint ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{path}: not a crnkit checkpoint (expected format {FORMAT})")
    try:
        return Checkpoint(
            path=str(path),
            model=str(data["model"]),
            model_args=dict(data["model_args"]),
            train_config=dict(data["train_config"]),
            split_sha256=str(data["split_sha256"]),
            step=int(data["step"]),
            epoch=int(data["epoch"]),
            metadata=dict(data.get("metadata", {})),
            last_losses=dict(data.get("last_losses", {})),
            image_size=tuple(data["image_size"]),
            num_outputs=int(data["num_outputs"]),
            created=str(data["created"]),
            weights=data["weights"],
            optimizers=dict(data.get("optimizers", {})),
            rng=dict(data.get("rng", {})),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path}: checkpoint is missing or has a bad field ({err})") from None


def build_model_from_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, Checkpoint]:
    """Rebuild the registered model of a checkpoint with its weights, in eval mode."""
    from crn.engine.registry import get_model_class

    ckpt = load_checkpoint(path)
    cls = get_model_class(ckpt.model)
    model = cls.from_args(cls.args_from_dict(ckpt.model_args))
    load_weights(model, ckpt.weights)
    model.to(device)
    model.eval()
    return model, ckpt


def capture_rng() -> dict[str, Any]:
    """The global RNG states (torch CPU/CUDA, Python, NumPy) in a weights_only-loadable form."""
    import random

    import numpy as np

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Restore the states saved by `capture_rng` (missing entries are left alone)."""
    import random

    import numpy as np

    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))
