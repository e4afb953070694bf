"""Builders of tiny data sets in the exact official layouts of every source (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from PIL import Image

from crn.data.sources.nyu_maps import (
    NUM_LABELS,
    NYU13_FROM_40,
    NYU13_NAMES,
    NYU40_NAMES,
    NYU40_SINGLE,
    nyu40_table,
)

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


def nyu_full_names() -> list[str]:
    """894 label names as NYU v2 orders them where the 40-class mapping checks them."""
    names = [f"label {k}" for k in range(1, NUM_LABELS + 1)]
    for name, label in NYU40_SINGLE:
        names[label - 1] = name
    return names


def make_nyu(
    path: Path, n: int = 4, names: list[str] | None = None, h: int = H, w: int = W
) -> tuple[np.ndarray, np.ndarray]:
    """A v7.3-style .mat: images (N,3,W,H), labels (N,W,H), names as a cell of char refs."""
    names = NYU_NAMES if names is None else names
    rng = np.random.default_rng(0)
    photos = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    labels = rng.integers(0, len(names) + 1, (n, h, w)).astype(np.uint16)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=photos.transpose(0, 3, 2, 1))
        f.create_dataset("labels", data=labels.transpose(0, 2, 1))
        refs = f.create_group("#refs#")
        cell = f.create_dataset("names", (1, len(names)), dtype=h5py.ref_dtype)
        for i, name in enumerate(names):
            chars = refs.create_dataset(f"n{i}", data=np.array([[ord(c)] for c in name], np.uint16))
            cell[0, i] = chars.ref
    return photos, labels


def _cell(strings: list[str]) -> np.ndarray:
    cell = np.empty((1, len(strings)), dtype=object)
    for i, text in enumerate(strings):
        cell[0, i] = text
    return cell


def make_nyu_splits_mat(path: Path, train: list[int], test: list[int]) -> Path:
    """NYU's splits.mat (MATLAB 5): trainNdxs and testNdxs, 1-based uint16 column vectors."""
    scipy.io.savemat(
        path,
        {
            "trainNdxs": np.array(train, np.uint16).reshape(-1, 1),
            "testNdxs": np.array(test, np.uint16).reshape(-1, 1),
        },
    )
    return path


def make_class_mapping40(path: Path, table: list[int] | None = None) -> Path:
    """Gupta et al.'s classMapping40.mat (MATLAB 5): mapClass, className, allClassName."""
    table = nyu40_table() if table is None else table
    scipy.io.savemat(
        path,
        {
            "mapClass": np.array(table, np.uint8).reshape(1, -1),
            "className": _cell(list(NYU40_NAMES)),
            "allClassName": _cell(nyu_full_names()),
            "mapToNYUSuperClass": np.ones((1, 40), np.uint8),
        },
    )
    return path


def make_class13_mapping(path: Path) -> Path:
    """class13Mapping.mat (MATLAB 5): a struct of labels13 (40 -> 13) and classNames."""
    struct = {"labels13": np.array(NYU13_FROM_40, np.uint8).reshape(1, -1)}
    struct["classNames"] = _cell(list(NYU13_NAMES))
    scipy.io.savemat(path, {"classMapping13": struct})
    return path


def make_ade20k_full(root: Path) -> Path:
    """The full ADE20K release's layout (ADE20K_2021_17_01), which crnkit does not read."""
    base = root / "ADE20K_2021_17_01"
    scene = base / "images" / "ADE" / "training" / "cultural" / "apse__indoor"
    Image.fromarray(photo(0)).save(_mk(scene / "ADE_train_00000001.jpg"), quality=95)
    save_png(scene / "ADE_train_00000001_seg.png", photo(1))
    (base / "objects.txt").write_text("objectnames\twordnet_synset\n")
    (base / "index_ade20k.pkl").write_bytes(b"\x80\x04N.")
    return base


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
