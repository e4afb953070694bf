"""Reading a network's weights from a state-dict file, every key and shape checked."""

from __future__ import annotations

import torch
from torch import nn

from crn.errors import UserError


def first_line(err: BaseException) -> str:
    """The first non-empty line of an exception's message (torch's can run to many lines)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def read_state_dict(path: str, net: nn.Module, what: str) -> dict[str, torch.Tensor]:
    """The entries of the file at `path` that `net` needs, every key and shape checked."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"{path}: not a readable torch state dict ({first_line(err)})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: expected a state dict of {what}, found {type(state).__name__}")
    # Files saved by older torch have no num_batches_tracked; it plays no part in eval mode.
    wanted = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = [key for key in wanted if key not in state]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise UserError(f"{path}: not {what} weights (no key {missing[0]}{more})")
    for key, value in wanted.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise UserError(
                f"{path}: not {what} weights ({key} has shape {tuple(state[key].shape)}, "
                f"expected {tuple(value.shape)})"
            )
    loaded = {key: state[key].float() for key in wanted}
    for key, value in net.state_dict().items():
        loaded.setdefault(key, value)
    return loaded
