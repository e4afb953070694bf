"""The networks metrics run, loaded from local files only, and how their weights are recorded.

Nothing is ever downloaded: a weights file is a local path or sits in torch hub's cache, and
`random` is an explicit, recorded fallback (numbers from it are not comparable to anyone's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from crn.errors import UserError
from crn.fsutil import sha256_file
from crn.statedict import read_state_dict
from metrics.inception import FILE_NAME, FIDInceptionV3


@dataclass(frozen=True)
class Weights:
    """What a network was loaded from: a label for tables, the file's sha256 and a cache key."""

    label: str
    sha256: str
    path: str | None = None

    @property
    def is_random(self) -> bool:
        """True for the explicit random fallback."""
        return self.path is None

    def namespace(self, what: str) -> str:
        """Cache namespace of outputs computed with these weights (random: also torch's version)."""
        tail = f"{self.sha256}:torch-{torch.__version__}" if self.is_random else self.sha256
        return f"{what}:{tail}"


def random_weights(kind: str, seed: int) -> Weights:
    """The record of a seeded random network."""
    return Weights(label="random", sha256=f"random-{kind}-seed{seed}")


def file_weights(kind: str, path: str | Path) -> Weights:
    """The record of a weights file: "<kind>:<file name>" and its sha256."""
    path = Path(path)
    return Weights(label=f"{kind}:{path.name}", sha256=sha256_file(path), path=str(path))


def inception_hub_path() -> Path:
    """Where torch hub's cache keeps pytorch-fid's FID Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME


def resolve_inception(spec: str | None, seed: int = 0) -> Weights:
    """`--inception-weights` (a path, "random" or None for the hub cache) to a Weights record."""
    if spec == "random":
        return random_weights("inception", seed)
    path = Path(spec).expanduser() if spec else inception_hub_path()
    if path.is_file():
        return file_weights("inception", path.resolve())
    where = f"--inception-weights {spec}: no such file" if spec else "FID Inception weights missing"
    raise UserError(
        f"{where}: put {FILE_NAME} (the FID Inception-v3 weights as distributed for pytorch-fid) "
        f"at {inception_hub_path()} or pass --inception-weights PATH; crnkit never downloads it "
        "(--inception-weights random runs an untrained network, recorded in metrics.csv)"
    )


def load_inception(weights: Weights, device: torch.device) -> FIDInceptionV3:
    """A frozen, eval-mode FID Inception-v3 with `weights`, on `device`."""
    with torch.random.fork_rng(devices=[]):
        net = FIDInceptionV3()
    if weights.path is None:
        _random_init(net, int(weights.sha256.rsplit("seed", 1)[-1]))
    else:
        net.load_state_dict(read_state_dict(weights.path, net, "the FID Inception-v3"))
    return freeze(net).to(device, memory_format=torch.channels_last)


def freeze(net: nn.Module) -> nn.Module:
    """Eval mode, no gradients."""
    net.eval()
    for param in net.parameters():
        param.requires_grad_(False)
    return net


def _random_init(net: nn.Module, seed: int) -> None:
    """He-normal convs from a private generator; batch norms keep identity statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=gen)
                if module.bias is not None:
                    module.bias.zero_()
