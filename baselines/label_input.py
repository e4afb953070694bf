"""What a baseline network sees of the label map: the one-hot channels or their colours."""

from __future__ import annotations

import torch
from torch import nn

LABEL_INPUTS = ("onehot", "rgb")
VOID_COLOR = (0, 0, 0)


class LabelInput(nn.Module):
    """Turn a one-hot label batch [B,C+1,H,W] into the network input.

    `rgb` draws the label map with the class colours (the input of the original pix2pix
    Cityscapes model); the colour table is a buffer so the conversion runs on any device.
    """

    def __init__(self, mode: str, palette: tuple[tuple[int, int, int], ...]) -> None:
        super().__init__()
        if mode not in LABEL_INPUTS:
            raise ValueError(f"unknown label input '{mode}' (expected onehot or rgb)")
        self.mode = mode
        table = torch.tensor(palette, dtype=torch.float32) / 127.5 - 1.0
        self.register_buffer("palette", table, persistent=False)

    @property
    def channels(self) -> int:
        """Number of channels of the network input."""
        return 3 if self.mode == "rgb" else self.palette.shape[0]

    def forward(self, label: torch.Tensor) -> torch.Tensor:
        """The network input for `label`: the one-hot map itself, or colours in [-1, 1]."""
        if self.mode == "rgb":
            return torch.einsum("bchw,cd->bdhw", label, self.palette.to(label.dtype))
        return label


def palette_of(classes, num_label_channels: int) -> tuple[tuple[int, int, int], ...]:
    """Class colours, then the void colour, as the `LabelInput` palette (one per channel)."""
    colors = [tuple(int(v) for v in c.color) for c in classes]
    if len(colors) + 1 != num_label_channels:
        raise ValueError(
            f"{len(colors)} classes do not match {num_label_channels} label channels (expected +1)"
        )
    return (*colors, VOID_COLOR)
