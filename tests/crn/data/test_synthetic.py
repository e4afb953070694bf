"""The procedural street scenes: determinism, label/pixel agreement, real appearance."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from crn.data.registry import open_source
from crn.data.render import labels as L
from crn.data.render.canvas import Canvas
from crn.data.sources.synthetic import SYNTH_CLASSES, render_scene, scene_seed, write_synthetic
from crn.errors import UserError

SIZE = (64, 128)


@pytest.fixture(scope="module")
def scenes():
    return [render_scene(seed, SIZE) for seed in range(12)]


def test_same_seed_same_arrays_and_different_seeds_differ():
    a_label, a_photo = render_scene(7, SIZE)
    b_label, b_photo = render_scene(7, SIZE)
    _, c_photo = render_scene(8, SIZE)
    assert np.array_equal(a_label, b_label) and np.array_equal(a_photo, b_photo)
    assert not np.array_equal(a_photo, c_photo)
    assert a_label.shape == SIZE and a_label.dtype == np.int64
    assert a_photo.shape == (*SIZE, 3) and a_photo.dtype == np.uint8


def test_written_set_is_byte_identical_for_the_same_seed(tmp_path):
    a = write_synthetic(tmp_path / "a", n=3, size=(24, 48), seed=5, progress=False)
    b = write_synthetic(tmp_path / "b", n=3, size=(24, 48), seed=5, progress=False)
    c = write_synthetic(tmp_path / "c", n=3, size=(24, 48), seed=6, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 3 * 2 + 2
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert (a / "images/synth_000000.png").read_bytes() != (
        c / "images/synth_000000.png"
    ).read_bytes()


def test_files_hold_exactly_the_rendered_scene(synth_dir):
    src = open_source("synthetic", synth_dir)
    assert src.ids()[:2] == ["synth_000000", "synth_000001"] and len(src.ids()) == 12
    label, photo = src.load("synth_000004")
    want_label, want_photo = render_scene(scene_seed(3, 4), (32, 64))
    assert np.array_equal(label, want_label) and np.array_equal(photo, want_photo)
    assert src.classes == SYNTH_CLASSES and src.default_size() == (32, 64)


def test_paint_writes_label_colour_and_depth_through_one_mask():
    canvas = Canvas(4, 5)
    mask = np.zeros((2, 3), bool)
    mask[0, 1] = mask[1, 2] = True
    canvas.paint(L.CAR, mask, np.full((3, 2, 3), 0.5, np.float32), 7.0, (1, 3, 1, 4))
    assert canvas.label[1, 2] == L.CAR and canvas.label[2, 3] == L.CAR
    assert (canvas.label == L.CAR).sum() == 2
    assert np.all(canvas.color[:, canvas.label == L.CAR] == 0.5)
    assert np.all(canvas.color[:, canvas.label != L.CAR] == 0.0)
    assert np.all(canvas.depth[canvas.label == L.CAR] == 7.0)


def test_street_layout_has_many_classes_and_perspective(scenes):
    present = set()
    for label, _ in scenes:
        present |= set(np.unique(label).tolist())
        # road converges: wider in the bottom row than halfway to the horizon
        road_rows = np.where((label == L.ROAD).any(axis=1))[0]
        top, bottom = road_rows.min(), road_rows.max()
        mid = (top + bottom) // 2
        assert (label[bottom] == L.ROAD).sum() > (label[mid] == L.ROAD).sum()
        assert (label[0] == L.ROAD).sum() == 0  # the road never reaches the top row
    assert present >= set(range(len(SYNTH_CLASSES))), sorted(present)
    assert len(SYNTH_CLASSES) >= 8


def _class_pixels(scenes, cls):
    return np.concatenate([photo[label == cls] for label, photo in scenes]).astype(float)


def test_pixels_look_like_their_label(scenes):
    sky, road = _class_pixels(scenes, L.SKY), _class_pixels(scenes, L.ROAD)
    vegetation = _class_pixels(scenes, L.VEGETATION)
    assert sky.mean(0)[2] > sky.mean(0)[0]  # sky is bluish
    assert sky.mean() > road.mean() + 40  # and brighter than asphalt
    assert np.abs(road.mean(0) - road.mean()).max() < 12  # asphalt is grey
    assert vegetation.mean(0)[1] > vegetation.mean(0)[0] + 10  # leaves are green
    assert vegetation.mean(0)[1] > vegetation.mean(0)[2] + 10


def test_regions_are_textured_not_flat_fills(scenes):
    for label, photo in scenes[:4]:
        for cls in np.unique(label):
            pixels = photo[label == cls].astype(float)
            if len(pixels) > 200:
                assert pixels.std(axis=0).max() > 2.0, SYNTH_CLASSES[cls].name


def test_label_boundaries_show_in_the_photo(scenes):
    """Where the label changes, the photo changes more than inside regions."""
    ratios = []
    for label, photo in scenes:
        grad = np.abs(np.diff(photo.astype(float).mean(2), axis=1))
        edge = np.diff(label, axis=1) != 0
        ratios.append(grad[edge].mean() / grad[~edge].mean())
    assert np.median(ratios) > 2.0


def test_render_is_fine_at_other_sizes_and_rejects_tiny_ones():
    label, photo = render_scene(1, (40, 40))
    assert label.shape == (40, 40) and photo.shape == (40, 40, 3)
    with pytest.raises(UserError, match="too small"):
        render_scene(1, (4, 40))


def test_synth_refuses_to_clobber_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="not empty"):
        write_synthetic(tmp_path, n=1, size=(16, 16), seed=0, progress=False)
    with pytest.raises(UserError, match=r"no meta\.json"):
        write_synthetic(tmp_path, n=1, size=(16, 16), seed=0, overwrite=True, progress=False)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_overwrite_replaces_a_previous_set(tmp_path):
    write_synthetic(tmp_path / "s", n=3, size=(16, 16), seed=0, progress=False)
    write_synthetic(tmp_path / "s", n=2, size=(16, 16), seed=1, overwrite=True, progress=False)
    assert len(list((tmp_path / "s/images").iterdir())) == 2
    src = open_source("synthetic", tmp_path / "s")
    assert src.meta["seed"] == 1 and len(src.ids()) == 2
    with Image.open(tmp_path / "s/labels/synth_000000.png") as img:
        assert img.mode == "L"


def test_incomplete_set_without_meta_is_refused(tmp_path):
    out = write_synthetic(tmp_path / "s", n=1, size=(16, 16), seed=0, progress=False)
    (out / "meta.json").unlink()
    with pytest.raises(UserError, match=r"meta\.json"):
        open_source("synthetic", out)


def test_worker_processes_write_the_same_bytes(tmp_path):
    one = write_synthetic(tmp_path / "one", n=4, size=(16, 32), seed=2, progress=False)
    two = write_synthetic(tmp_path / "two", n=4, size=(16, 32), seed=2, workers=2, progress=False)
    for path in sorted(one.rglob("*.png")):
        assert path.read_bytes() == (two / path.relative_to(one)).read_bytes(), path


def test_cli_modules_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, crn.commands.data, crn.data.splits, crn.data.check, crn.data.export;"
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
