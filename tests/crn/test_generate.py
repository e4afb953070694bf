"""Writing several image sets in one generation pass."""

from __future__ import annotations

import numpy as np
import pytest

from crn.errors import UserError
from crn.generate import fan_out, parse_variant, set_targets
from crn.imageset import MANIFEST, write_imageset


def _items(n, k, fail_at=None):
    for i in range(n):
        if i == fail_at:
            raise RuntimeError("model failed")
        yield (
            f"id{i}",
            np.full((k, 4, 8, 3), 10 * i, dtype=np.uint8)
            + np.arange(k, dtype=np.uint8)[:, None, None, None],
        )


def _writer(folder):
    def write(images):
        return write_imageset(
            folder,
            name=folder.name,
            kind="generated",
            source="x",
            dataset="synthetic",
            split_sha256="0" * 64,
            split="test",
            size=(4, 8),
            images=images,
        )

    return write


def test_each_writer_gets_its_output(tmp_path):
    folders = [tmp_path / f"s-v{j}" for j in range(3)]
    sets = fan_out(_items(5, 3), [_writer(f) for f in folders])
    for j, imageset in enumerate(sets):
        assert imageset.ids == [f"id{i}" for i in range(5)]
        from crn.imageset import read_image

        assert read_image(imageset.path("id2"))[0, 0, 0] == 20 + j


def test_a_failed_generation_leaves_no_manifest(tmp_path):
    folders = [tmp_path / f"s-v{j}" for j in range(2)]
    with pytest.raises(RuntimeError, match="model failed"):
        fan_out(_items(5, 2, fail_at=3), [_writer(f) for f in folders])
    assert not any((f / MANIFEST).exists() for f in folders)


def test_a_failed_writer_stops_all_without_manifests(tmp_path):
    def broken(images):
        next(iter(images))
        raise UserError("disk full")

    good = tmp_path / "good"
    with pytest.raises(UserError, match="disk full"):
        fan_out(_items(20, 2), [_writer(good), broken])
    assert not (good / MANIFEST).exists()


def test_variant_targets(tmp_path):
    assert parse_variant("all") == "all" and parse_variant("3") == 3
    with pytest.raises(UserError):
        parse_variant("-1")
    assert set_targets(tmp_path / "crn", "all", 2) == [
        (0, tmp_path / "crn-v0"),
        (1, tmp_path / "crn-v1"),
    ]
    assert set_targets(tmp_path / "crn", 1, 2) == [(1, tmp_path / "crn")]
    with pytest.raises(UserError, match="makes 2 output"):
        set_targets(tmp_path / "crn", 2, 2)
