"""Contract 3 (docs/contracts.md): writing, loading and verifying image sets."""

import json

import numpy as np
import pytest

from crn.errors import UserError
from crn.imageset import load_imageset, read_image, write_imageset


def _write(tmp_path, ids=("a", "b")):
    rng = np.random.default_rng(0)
    images = [(i, rng.integers(0, 256, (8, 16, 3), dtype=np.uint8)) for i in ids]
    return images, write_imageset(
        tmp_path / "set",
        name="real",
        kind="real",
        source="splits.json",
        dataset="synthetic",
        split_sha256="abc",
        split="test",
        size=(8, 16),
        images=images,
    )


def test_roundtrip_keeps_pixels_and_hashes(tmp_path):
    images, iset = _write(tmp_path)
    assert iset.ids == ["a", "b"]
    assert iset.verify() == []
    for image_id, array in images:
        assert np.array_equal(read_image(iset.path(image_id)), array)


def test_verify_reports_a_changed_file(tmp_path):
    _, iset = _write(tmp_path)
    iset.path("a").write_bytes(b"not a png")
    problems = iset.verify()
    assert len(problems) == 1 and "a.png" in problems[0]


def test_bad_manifest_is_one_clear_error(tmp_path):
    _write(tmp_path)
    manifest = tmp_path / "set" / "imageset.json"
    meta = json.loads(manifest.read_text())
    meta["images"]["x"] = "../outside.png"
    manifest.write_text(json.dumps(meta))
    with pytest.raises(UserError, match="leaves the set folder"):
        load_imageset(tmp_path / "set")


def test_wrong_size_is_refused(tmp_path):
    with pytest.raises(UserError, match="expected size"):
        write_imageset(
            tmp_path / "s",
            name="x",
            kind="generated",
            source="-",
            dataset="d",
            split_sha256="-",
            split="test",
            size=(4, 4),
            images=[("a", np.zeros((8, 8, 3), np.uint8))],
        )


def test_written_files_are_world_readable(tmp_path):
    _, iset = _write(tmp_path)
    assert (iset.root / "imageset.json").stat().st_mode & 0o777 == 0o644
    assert iset.path("a").stat().st_mode & 0o777 == 0o644
