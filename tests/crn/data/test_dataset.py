"""PairedDataset and the one-hot encoding; colorize."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from crn.data.classes import IGNORE_INDEX, ClassInfo
from crn.data.colorize import colorize
from crn.data.dataset import PairedDataset, labels_to_onehot
from crn.data.registry import open_source
from crn.data.resize import resize_label, resize_photo
from crn.data.splits import make_splits
from crn.errors import UserError


def test_onehot_puts_ignore_in_the_last_channel():
    label = torch.tensor([[0, 2], [IGNORE_INDEX, 1]])
    onehot = labels_to_onehot(label, 3)
    assert onehot.shape == (4, 2, 2) and onehot.dtype == torch.float32
    assert torch.equal(onehot.sum(0), torch.ones(2, 2))
    assert onehot[0, 0, 0] == 1 and onehot[2, 0, 1] == 1 and onehot[3, 1, 0] == 1
    batch = labels_to_onehot(torch.stack([label, label]), 3)
    assert batch.shape == (2, 4, 2, 2) and torch.equal(batch[1], onehot)
    with pytest.raises(ValueError, match="label value 3 is outside the 3 classes"):
        labels_to_onehot(torch.tensor([[3]]), 3)


def test_items_have_the_contract_shapes(folders_root):
    root, raw = folders_root
    splits = make_splits("folders", root, test=1, seed=0)
    ds = PairedDataset(splits, "train")
    item = ds[0]
    assert set(item) == {"id", "label", "label_index", "photo"}
    assert item["label"].shape == (4, 12, 16) and item["label"].dtype == torch.float32
    assert item["label_index"].dtype == torch.int64
    assert (
        item["photo"].shape == (3, 12, 16) and 0 <= item["photo"].min() <= item["photo"].max() <= 1
    )
    want = torch.from_numpy(raw[item["id"]].astype(np.int64))
    assert torch.equal(item["label_index"], want)
    assert item["label_index"][0, 0] == IGNORE_INDEX and item["label"][3, 0, 0] == 1
    assert torch.equal(item["label"].argmax(0), torch.where(want == 255, 3, want))
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["label"].shape == (2, 4, 12, 16) and len(batch["id"]) == 2


def test_resize_nearest_labels_and_antialiased_photos(synth_dir):
    splits = make_splits("synthetic", synth_dir)
    ds = PairedDataset(splits, "train", size=(16, 32))
    item = ds[1]
    label, photo = open_source("synthetic", synth_dir).load(item["id"])
    assert item["label"].shape == (11, 16, 32) and item["photo"].shape == (3, 16, 32)
    assert set(item["label_index"].unique().tolist()) <= set(np.unique(label).tolist())
    assert np.array_equal(item["label_index"].numpy(), label[1::2, 1::2])  # pixel centres
    small = resize_photo(photo, (16, 32)).astype(float)
    assert np.allclose(item["photo"].numpy().transpose(1, 2, 0) * 255, small, atol=0.01)
    # antialiasing: a checkerboard averages to grey instead of aliasing to one colour
    checker = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
    down = resize_photo(np.repeat(checker[..., None], 3, 2), (8, 8))
    assert np.abs(down.astype(float) - 127.5).max() < 10
    assert resize_label(np.arange(16).reshape(4, 4), (2, 2)).tolist() == [[5, 7], [13, 15]]


def test_flip_is_shared_by_label_and_photo_and_deterministic(synth_dir):
    splits = make_splits("synthetic", synth_dir, test=1)
    plain = PairedDataset(splits, "train")
    flipped = PairedDataset(splits, "train", flip=True, seed=5)
    decisions = [flipped.flipped(i) for i in range(len(flipped))]
    assert any(decisions) and not all(decisions)
    for i, was_flipped in enumerate(decisions):
        a, b = plain[i], flipped[i]
        if was_flipped:
            assert torch.equal(b["label_index"], a["label_index"].flip(-1))
            assert torch.equal(b["photo"], a["photo"].flip(-1))
            assert torch.equal(b["label"], a["label"].flip(-1))
        else:
            assert torch.equal(b["photo"], a["photo"])
    again = PairedDataset(splits, "train", flip=True, seed=5)
    assert [again.flipped(i) for i in range(len(again))] == decisions
    flipped.set_epoch(1)
    assert [flipped.flipped(i) for i in range(len(flipped))] != decisions


def test_empty_split_is_an_error(synth_dir):
    splits = make_splits("synthetic", synth_dir)
    with pytest.raises(UserError, match=r"split 'val' .* is empty"):
        PairedDataset(splits, "val")


def test_colorize_draws_class_colours_and_black_ignore():
    classes = (ClassInfo("a", (10, 20, 30)), ClassInfo("b", (200, 100, 0)))
    image = colorize(np.array([[0, 1, IGNORE_INDEX]]), classes)
    assert image.dtype == np.uint8
    assert image.tolist() == [[[10, 20, 30], [200, 100, 0], [0, 0, 0]]]
    with pytest.raises(UserError, match="label value 2 is outside the 2 classes"):
        colorize(np.array([[2]]), classes)
