"""Builders of tiny data sets in the exact official layouts of every source (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

H, W = 12, 16


def save_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def photo(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def make_cityscapes(root: Path) -> dict[str, np.ndarray]:
    """Three train pairs over two cities and two val pairs; returns the raw label ids."""
    raw = {}
    layout = {
        "train": ["aachen_000000_000019", "aachen_000001_000019", "bochum_000000_000313"],
        "val": ["frankfurt_000000_000294", "lindau_000000_000019"],
    }
    for subset, ids in layout.items():
        for k, image_id in enumerate(ids):
            city = image_id.split("_")[0]
            ids_map = np.array([0, 7, 8, 26, 24, 33, 23, 11], np.uint8)
            label = ids_map[(np.arange(H * W).reshape(H, W) + k) % len(ids_map)]
            raw[image_id] = label
            save_png(root / "leftImg8bit" / subset / city / f"{image_id}_leftImg8bit.png", photo(k))
            save_png(root / "gtFine" / subset / city / f"{image_id}_gtFine_labelIds.png", label)
    return raw


def make_ade20k(root: Path) -> dict[str, np.ndarray]:
    base = root / "ADEChallengeData2016"
    raw = {}
    for subset, prefix, count in (("training", "ADE_train", 3), ("validation", "ADE_val", 2)):
        for k in range(count):
            image_id = f"{prefix}_{k + 1:08d}"
            label = ((np.arange(H * W).reshape(H, W) * 7 + k) % 151).astype(np.uint8)
            raw[image_id] = label
            Image.fromarray(photo(k)).save(
                _mk(base / "images" / subset / f"{image_id}.jpg"), quality=95
            )
            save_png(base / "annotations" / subset / f"{image_id}.png", label)
    return raw


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


NYU_NAMES = ["wall", "floor", "cabinet", "bed", "chair"]


def make_nyu(path: Path, n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A v7.3-style .mat: images (N,3,W,H), labels (N,W,H), names as a cell of char refs."""
    rng = np.random.default_rng(0)
    photos = rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8)
    labels = rng.integers(0, len(NYU_NAMES) + 1, (n, H, W)).astype(np.uint16)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=photos.transpose(0, 3, 2, 1))
        f.create_dataset("labels", data=labels.transpose(0, 2, 1))
        refs = f.create_group("#refs#")
        names = f.create_dataset("names", (1, len(NYU_NAMES)), dtype=h5py.ref_dtype)
        for i, name in enumerate(NYU_NAMES):
            chars = refs.create_dataset(f"n{i}", data=np.array([[ord(c)] for c in name], np.uint16))
            names[0, i] = chars.ref
    return photos, labels


FOLDER_CLASSES = [
    {"name": "ground", "color": [128, 64, 128]},
    {"name": "thing", "color": [220, 20, 60]},
    {"name": "sky", "color": [70, 130, 180]},
]


def make_folders(root: Path, n: int = 5) -> dict[str, np.ndarray]:
    raw = {}
    (root / "classes.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps(FOLDER_CLASSES))
    for k in range(n):
        label = ((np.arange(H * W).reshape(H, W) + k) % 3).astype(np.uint8)
        label[0, 0] = 255
        raw[f"img{k}"] = label
        save_png(root / "images" / f"img{k}.png", photo(k))
        save_png(root / "labels" / f"img{k}.png", label)
    return raw
