"""The paired torch dataset: one-hot label (classes + void) and photo at a requested size."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from crn.data.classes import IGNORE_INDEX
from crn.data.resize import resize_label, resize_photo
from crn.data.splits import Splits, open_split_source, parse_size
from crn.errors import UserError


def labels_to_onehot(label_index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One-hot float32 of an int label map [..., H, W] -> [..., C+1, H, W], void channel last.

    Pixels at IGNORE_INDEX go to the void channel (index `num_classes`).
    """
    if label_index.dtype.is_floating_point or label_index.dim() < 2:
        raise ValueError(f"expected an integer label map [..., H, W], got {label_index.dtype}")
    bad = (label_index < 0) | ((label_index >= num_classes) & (label_index != IGNORE_INDEX))
    if bool(bad.any()):
        value = int(label_index[bad][0])
        raise ValueError(f"label value {value} is outside the {num_classes} classes")
    index = torch.where(label_index == IGNORE_INDEX, num_classes, label_index).long()
    shape = (*index.shape[:-2], num_classes + 1, *index.shape[-2:])
    out = torch.zeros(shape, dtype=torch.float32, device=index.device)
    return out.scatter_(-3, index.unsqueeze(-3), 1.0)


class PairedDataset(Dataset):
    """Items {"id", "label" [C+1,H,W], "label_index" [H,W], "photo" [3,H,W] in [0, 1]}.

    With `flip`, each item is mirrored with probability 1/2, label and photo together; the
    draw depends only on (seed, epoch, index), so runs and DataLoader workers agree. Call
    `set_epoch` before each epoch; DataLoader workers started with `persistent_workers=True`
    keep the epoch they were started with, so recreate the loader (or iterator) per epoch.
    """

    def __init__(
        self,
        splits: Splits,
        split: str,
        size: tuple[int, int] | None = None,
        flip: bool = False,
        seed: int = 0,
    ) -> None:
        self.splits = splits
        self.split = split
        self.ids = splits.ids(split)
        if not self.ids:
            raise UserError(f"split '{split}' of {splits.source} ({splits.sha256[:12]}) is empty")
        self.size = parse_size(size) if size is not None else splits.size
        self.flip = flip
        self.seed = seed
        self.epoch = 0
        self.num_classes = len(splits.classes)
        self.source = open_split_source(splits)

    def set_epoch(self, epoch: int) -> None:
        """Select the flips of `epoch` (call before iterating each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.ids)

    def flipped(self, index: int) -> bool:
        """Whether item `index` is mirrored in the current epoch."""
        if not self.flip:
            return False
        return bool(np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5)

    def __getitem__(self, index: int) -> dict:
        image_id = self.ids[index]
        label, photo = self.source.load(image_id)
        label = resize_label(label, self.size)
        photo = resize_photo(photo, self.size)
        if self.flipped(index):
            label, photo = label[:, ::-1], photo[:, ::-1]
        # np.array copies: decoded photos are read-only and flips are negative-stride views
        label_index = torch.from_numpy(np.array(label, dtype=np.int64))
        photo_t = torch.from_numpy(np.array(photo, dtype=np.uint8)).permute(2, 0, 1)
        return {
            "id": image_id,
            "label": labels_to_onehot(label_index, self.num_classes),
            "label_index": label_index,
            "photo": photo_t.float().div_(255.0),
        }
