"""Every source on fixtures in its official layout: ids, class maps, and clear errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from data_layouts import NYU_NAMES, make_ade20k_full, make_nyu, photo, save_png
from PIL import Image

from crn.data.classes import IGNORE_INDEX, ClassInfo
from crn.data.registry import SOURCES, open_source
from crn.data.sources.ade20k import ADE_CLASSES
from crn.data.sources.cityscapes import ID_CLASSES, LABELS, TRAIN_CLASSES
from crn.errors import UserError


def test_registry_is_an_explicit_dict():
    assert set(SOURCES) == {"synthetic", "cityscapes", "ade20k", "nyu", "folders"}
    with pytest.raises(UserError, match="unknown data source 'kitti'"):
        open_source("kitti", ".")
    with pytest.raises(UserError, match="has no option mapping"):
        open_source("ade20k", ".", mapping="x.json")


def test_cityscapes_train_classes(cityscapes_root):
    root, raw = cityscapes_root
    src = open_source("cityscapes", root)
    assert src.ids("train") == [
        "aachen_000000_000019",
        "aachen_000001_000019",
        "bochum_000000_000313",
    ]
    assert src.ids("val") == ["frankfurt_000000_000294", "lindau_000000_000019"]
    assert len(src.classes) == 19 and src.classes == TRAIN_CLASSES
    assert src.classes[0].name == "road" and src.classes[0].color == (128, 64, 128)
    assert src.classes[13].name == "car" and src.classes[18].name == "bicycle"
    label, image = src.load("bochum_000000_000313")
    ids = raw["bochum_000000_000313"]
    expect = {0: IGNORE_INDEX, 7: 0, 8: 1, 26: 13, 24: 11, 33: 18, 23: 10, 11: 2}
    for label_id, train_id in expect.items():
        assert np.all(label[ids == label_id] == train_id)
    assert image.shape == (*label.shape, 3)
    assert src.options == {"labels": "train"}


def test_cityscapes_label_ids_mode(cityscapes_root):
    root, raw = cityscapes_root
    src = open_source("cityscapes", root, labels="ids")
    assert len(src.classes) == 35 and src.classes == ID_CLASSES
    assert src.classes[26].name == "car" and src.classes[0].name == "unlabeled"
    label, _ = src.load("aachen_000000_000019")
    assert np.array_equal(label, raw["aachen_000000_000019"].astype(np.int64))


def test_cityscapes_bad_label_value_names_file_value_and_count(cityscapes_root):
    root, _ = cityscapes_root
    path = root / "gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png"
    bad = np.full((12, 16), 7, np.uint8)
    bad[3, 4] = 40
    save_png(path, bad)
    with pytest.raises(UserError) as err:
        open_source("cityscapes", root).load("lindau_000000_000019")
    text = str(err.value)
    assert str(path) in text and "label value 40" in text and "19 classes" in text


def test_cityscapes_missing_pair_is_reported(cityscapes_root):
    root, _ = cityscapes_root
    (root / "gtFine/train/bochum/bochum_000000_000313_gtFine_labelIds.png").unlink()
    src = open_source("cityscapes", root)
    problems = src.missing_pairs()
    assert len(problems) == 1 and "bochum_000000_000313_leftImg8bit.png" in problems[0]
    assert "no matching label" in problems[0]
    with pytest.raises(UserError, match="label of 'bochum_000000_000313' is missing"):
        src.load("bochum_000000_000313")


def test_cityscapes_wrong_layout(tmp_path):
    with pytest.raises(UserError, match="leftImg8bit"):
        open_source("cityscapes", tmp_path)
    (tmp_path / "leftImg8bit").mkdir()
    (tmp_path / "gtFine").mkdir()
    with pytest.raises(UserError, match="labels 'coarse'"):
        open_source("cityscapes", tmp_path, labels="coarse")


def test_ade20k_classes_and_zero_ignored(ade_root):
    root, raw = ade_root
    for where in (root, root / "ADEChallengeData2016"):
        src = open_source("ade20k", where)
        assert src.ids("training") == [f"ADE_train_{k:08d}" for k in (1, 2, 3)]
        assert src.ids("validation") == ["ADE_val_00000001", "ADE_val_00000002"]
    assert len(src.classes) == 150 and src.classes == ADE_CLASSES
    assert src.classes[0].name == "wall" and src.classes[0].color == (120, 120, 120)
    assert src.classes[2].name == "sky" and src.classes[149].name == "flag"
    label, image = src.load("ADE_val_00000002")
    ann = raw["ADE_val_00000002"].astype(np.int64)
    assert np.all(label[ann == 0] == IGNORE_INDEX)
    assert np.array_equal(label[ann > 0], ann[ann > 0] - 1)
    assert image.shape == (12, 16, 3)


def test_ade20k_value_above_150(ade_root):
    root, _ = ade_root
    path = root / "ADEChallengeData2016/annotations/training/ADE_train_00000002.png"
    save_png(path, np.full((12, 16), 151, np.uint8))
    with pytest.raises(UserError) as err:
        open_source("ade20k", root).load("ADE_train_00000002")
    assert str(path) in str(err.value) and "151" in str(err.value) and "150" in str(err.value)


def test_nyu_reads_transposed_matlab_arrays(nyu_mat):
    path, photos, labels = nyu_mat
    src = open_source("nyu", path)
    assert [c.name for c in src.classes] == NYU_NAMES
    assert src.ids() == ["nyu_0000", "nyu_0001", "nyu_0002", "nyu_0003"]
    label, image = src.load("nyu_0002")
    assert np.array_equal(image, photos[2])
    raw = labels[2].astype(np.int64)
    assert np.all(label[raw == 0] == IGNORE_INDEX)
    assert np.array_equal(label[raw > 0], raw[raw > 0] - 1)
    assert open_source("nyu", path.parent).ids() == src.ids()  # folder holding the .mat


def test_nyu_mapping_merges_classes(nyu_mat, tmp_path):
    path, _, labels = nyu_mat
    mapping = {
        "classes": ["structure", {"name": "furniture", "color": [1, 2, 3]}],
        "map": {"1": 1, "2": 1, "3": 2, "4": 2},
    }
    mapping_file = tmp_path / "map.json"
    mapping_file.write_text(json.dumps(mapping))
    src = open_source("nyu", path, mapping=str(mapping_file))
    assert [c.name for c in src.classes] == ["structure", "furniture"]
    assert src.classes[1].color == (1, 2, 3)
    label, _ = src.load("nyu_0001")
    raw = labels[1]
    assert np.all(label[(raw == 1) | (raw == 2)] == 0)
    assert np.all(label[(raw == 3) | (raw == 4)] == 1)
    assert np.all(label[(raw == 0) | (raw == 5)] == IGNORE_INDEX)  # 5 is unmapped
    assert src.options["mapping"]["map"]["3"] == 2


def test_nyu_bad_mapping_and_bad_labels(nyu_mat, tmp_path):
    path, _, _ = nyu_mat
    bad = {"classes": ["a"], "map": {"1": 3}}
    with pytest.raises(UserError, match=r"label 1 maps to 3, expected 0\.\.1"):
        open_source("nyu", path, mapping=bad)
    with pytest.raises(UserError, match=r"original label '9' is not in 1\.\.5"):
        open_source("nyu", path, mapping={"classes": ["a"], "map": {"9": 1}})
    other = tmp_path / "other.mat"
    make_nyu(other, n=2)

    with h5py.File(other, "r+") as f:
        f["labels"][1, 2, 3] = 9
    with pytest.raises(UserError) as err:
        open_source("nyu", other).load("nyu_0001")
    assert "label value 9" in str(err.value) and "5 NYU labels" in str(err.value)
    assert str(other) in str(err.value)
    with pytest.raises(UserError, match="no image id 'nyu_0007'"):
        open_source("nyu", other).load("nyu_0007")


def test_nyu_not_hdf5(tmp_path):
    path = tmp_path / "x.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file, not HDF5")
    with pytest.raises(UserError, match="cannot read as HDF5"):
        open_source("nyu", path)


def test_folders_index_and_rgb_labels(folders_root):
    root, raw = folders_root
    src = open_source("folders", root)
    assert src.ids() == [f"img{k}" for k in range(5)]
    assert [c.name for c in src.classes] == ["ground", "thing", "sky"]
    label, _ = src.load("img1")
    assert np.array_equal(label, raw["img1"].astype(np.int64))
    colors = np.array([c.color for c in src.classes] + [(0, 0, 0)], np.uint8)
    index = np.where(raw["img2"] == 255, 3, raw["img2"])
    save_png(root / "labels" / "img2.png", colors[index])
    label, _ = src.load("img2")
    assert np.array_equal(label, raw["img2"].astype(np.int64))


def test_folders_errors_name_the_file(folders_root):
    root, _ = folders_root
    bad = np.zeros((12, 16), np.uint8)
    bad[5, 5] = 7
    save_png(root / "labels" / "img0.png", bad)
    with pytest.raises(UserError) as err:
        open_source("folders", root).load("img0")
    msg = str(err.value)
    assert "img0.png" in msg and "label value 7" in msg and "3 classes" in msg
    save_png(root / "labels" / "img1.png", np.zeros((10, 16), np.uint8))
    with pytest.raises(UserError, match=r"label is 10x16 but its photo .* is 12x16"):
        open_source("folders", root).load("img1")
    (root / "images" / "img3.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"img3\.png: cannot decode image"):
        open_source("folders", root).load("img3")
    colors = np.zeros((12, 16, 3), np.uint8)
    colors[..., 1] = 200
    save_png(root / "labels" / "img4.png", colors)
    with pytest.raises(UserError, match=r"label colour \(0, 200, 0\) is none of the 3"):
        open_source("folders", root).load("img4")
    Image.fromarray(photo(9)).save(root / "images" / "lonely.png")
    assert (
        "lonely.png: photo has no matching label" in open_source("folders", root).missing_pairs()[0]
    )


def test_folders_bad_classes_json(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    with pytest.raises(UserError, match=r"classes\.json: class list not found"):
        open_source("folders", tmp_path)
    (tmp_path / "classes.json").write_text('[{"name": "a", "color": [1, 2]}]')
    with pytest.raises(UserError, match=r"class 0 \('a'\) needs color"):
        open_source("folders", tmp_path)


def test_cityscapes_authors_labels_follow_the_colour_palette(cityscapes_root):
    root, _ = cityscapes_root
    path = root / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png"
    ids = np.arange(12 * 16).reshape(12, 16) % 35
    save_png(path, ids.astype(np.uint8))
    authors = open_source("cityscapes", root, labels="authors")
    assert authors.classes == TRAIN_CLASSES and authors.options == {"labels": "authors"}
    label, _ = authors.load("aachen_000000_000019")
    pole, car = TRAIN_CLASSES.index(ClassInfo("pole", (153, 153, 153))), 13
    assert np.all(label[ids == 18] == pole)  # polegroup is drawn in pole's colour
    assert np.all(label[ids == 34] == car)  # license plate in car's
    keep = (ids != 18) & (ids != 34)
    save_png(path, np.where(keep, ids, 0).astype(np.uint8))
    train_label, _ = open_source("cityscapes", root).load("aachen_000000_000019")
    assert np.array_equal(label[keep], train_label[keep])  # elsewhere the trainIds exactly
    assert np.all(train_label[ids == 18] == IGNORE_INDEX)


def _palette_png(path, index: np.ndarray, colors: list[tuple[int, int, int]]) -> None:
    img = Image.fromarray(index.astype(np.uint8), "P")
    img.putpalette([v for color in colors for v in color])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def test_colour_label_saved_as_palette_png_is_refused(cityscapes_root):
    root, raw = cityscapes_root
    image_id = "frankfurt_000000_000294"
    path = root / f"gtFine/val/frankfurt/{image_id}_gtFine_labelIds.png"
    ids = raw[image_id]
    colors = {label_id: color for _, label_id, _, color in LABELS}
    used = sorted(set(ids.flat), key=lambda v: colors[v])  # palette in some other order
    _palette_png(path, np.vectorize(used.index)(ids), [colors[v] for v in used])
    with pytest.raises(UserError) as err:
        open_source("cityscapes", root).load(image_id)
    text = str(err.value)
    assert str(path) in text and "palette PNG drawn in Cityscapes class colours" in text
    assert "_gtFine_labelIds.png" in text and "\n" not in text
    # the same ids with a palette that draws id k in id k's colour are ids: read as such
    _palette_png(path, ids, [colors[v] for v in range(35)])
    label, _ = open_source("cityscapes", root, labels="ids").load(image_id)
    assert np.array_equal(label, ids.astype(np.int64))
    # and an unrelated palette (e.g. a grey ramp) leaves the indices alone
    _palette_png(path, ids, [(v, v, v) for v in range(256)])
    assert np.array_equal(open_source("cityscapes", root, labels="ids").load(image_id)[0], ids)
    save_png(path, np.stack([ids * 7] * 3, axis=-1).astype(np.uint8))
    with pytest.raises(UserError, match=r"mode RGB.*a colour label\? use the label-id PNGs"):
        open_source("cityscapes", root).load(image_id)


def test_ade20k_colour_palette_png_is_refused(ade_root):
    root, raw = ade_root
    path = root / "ADEChallengeData2016/annotations/validation/ADE_val_00000001.png"
    ann = raw["ADE_val_00000001"]
    used = sorted(set(ann.flat), reverse=True)
    colors = [(0, 0, 0)] + [c.color for c in ADE_CLASSES]
    _palette_png(path, np.vectorize(used.index)(ann), [colors[v] for v in used])
    with pytest.raises(UserError, match=r"palette PNG drawn in ADE20K class colours.*annotations"):
        open_source("ade20k", root).load("ADE_val_00000001")


def test_ade20k_names_follow_objectinfo150(ade_root):
    root, _ = ade_root
    src = open_source("ade20k", root)
    assert src.classes[89].name == "television"  # index 90 of objectInfo150
    assert src.classes[88].name == "booth" and src.classes[90].name == "airplane"


def test_full_ade20k_release_is_refused_naming_the_supported_layout(tmp_path):
    full = make_ade20k_full(tmp_path)
    for root in (tmp_path, full):
        with pytest.raises(UserError) as err:
            open_source("ade20k", root)
        text = str(err.value)
        assert "ADE20K_2021_17_01" in text and "only" in text and "ADEChallengeData2016" in text
