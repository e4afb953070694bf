"""Helpers of the study tests: tiny image sets and a valid study.toml document over them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tomli_w

from crn.imageset import write_imageset

SIZE = (8, 16)
N_IDS = 12
SPLIT_SHA = "0" * 64


def image_ids(n: int = N_IDS) -> list[str]:
    """The image ids of the fixture sets: img00, img01, …"""
    return [f"img{k:02d}" for k in range(n)]


def make_image_sets(root: Path, n_ids: int = N_IDS, size: tuple[int, int] = SIZE) -> dict:
    """Write sets real, crn, pix2pix (and catch set real-blur) under `root`; name -> folder."""
    rng = np.random.default_rng(0)
    ids = image_ids(n_ids)
    real = {i: rng.integers(0, 256, (*size, 3), dtype=np.uint8) for i in ids}
    variants = {
        "real": ("real", real),
        "crn": ("generated", {i: (a // 2 + 40).astype(np.uint8) for i, a in real.items()}),
        "pix2pix": ("generated", {i: (255 - a).astype(np.uint8) for i, a in real.items()}),
        "real-blur": (
            "catch",
            {i: np.full_like(a, int(a.mean())) for i, a in real.items()},
        ),
    }
    paths = {}
    for name, (kind, images) in variants.items():
        paths[name] = root / name
        write_imageset(
            paths[name],
            name=name,
            kind=kind,
            source="fixture",
            dataset="synthetic",
            split_sha256=SPLIT_SHA,
            split="test",
            size=size,
            images=sorted(images.items()),
        )
    return paths


def study_document(sets: dict, base: Path, **study_overrides) -> dict:
    """The TOML document of a valid spec over `sets` (folders written relative to `base`)."""
    return {
        "study": {
            "id": "fixture-study",
            "title": "Which image looks more real?",
            "dataset": "synthetic",
            "trials_per_participant": 12,
            "seed": 7,
            **study_overrides,
        },
        "sets": {
            "real": str(Path(sets["real"]).relative_to(base)),
            "crn": str(Path(sets["crn"]).relative_to(base)),
            "pix2pix": str(Path(sets["pix2pix"]).relative_to(base)),
            "blurred": str(Path(sets["real-blur"]).relative_to(base)),
        },
        "comparisons": [
            {
                "id": "crn_vs_pix2pix",
                "a": "crn",
                "b": "pix2pix",
                "exposures": [125, 1000, "unlimited"],
            },
            {"a": "crn", "b": "real", "exposures": [125, 1000, "unlimited"]},
        ],
        "practice": {"trials": 2, "a": "real", "b": "blurred", "exposure": "unlimited"},
        "catch": {"trials": 2, "real": "real", "bad": "blurred", "exposure": "unlimited"},
        "exclusion": {"min_catch_accuracy": 0.75},
        "platform": {"kind": "local", "completion_code": "FIXTURE1"},
        "display": {"width": 64, "height": 32, "min_window_width": 200, "min_window_height": 100},
    }


def write_study_toml(path: Path, document: dict) -> Path:
    """Write a study document as TOML to `path`."""
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path
