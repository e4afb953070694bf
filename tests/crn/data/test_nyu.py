"""NYU Depth v2 as downloaded: the 894 labels, the 40/13-class mappings, splits.mat, the size."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from data_layouts import (
    NYU_NAMES,
    make_class13_mapping,
    make_class_mapping40,
    make_nyu,
    make_nyu_splits_mat,
    nyu_full_names,
)

from crn.data.classes import IGNORE_INDEX
from crn.data.dataset import PairedDataset
from crn.data.idlists import read_id_lists
from crn.data.registry import open_source
from crn.data.resize import center_crop, resize_label, resize_photo
from crn.data.sources.nyu_maps import NYU13_NAMES, NYU40_NAMES, nyu40_table
from crn.data.splits import load_splits, make_splits, open_split_source, save_splits
from crn.errors import UserError
from crn.models.generator import scales


@pytest.fixture
def nyu_full(tmp_path):
    """A labeled file over NYU v2's 894 labels (six 48x64 frames: NYU's 3:4 aspect)."""
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    photos, labels = make_nyu(path, n=6, names=nyu_full_names(), h=48, w=64)
    return path, photos, labels


def test_raw_894_labels_are_refused_naming_the_mappings(nyu_full):
    path, _, _ = nyu_full
    with pytest.raises(UserError) as err:
        open_source("nyu", path)
    text = str(err.value)
    assert "894 labels" in text and "nyu40" in text and "nyu13" in text
    assert "classMapping40.mat" in text


def test_nyu40_maps_every_label_as_gupta_et_al(nyu_full):
    path, _, labels = nyu_full
    src = open_source("nyu", path, mapping="nyu40")
    assert [c.name for c in src.classes] == list(NYU40_NAMES) and len(src.classes) == 40
    assert src.classes[0].name == "wall" and src.classes[39].name == "otherprop"
    label, _ = src.load("nyu_0003")
    raw = labels[3].astype(np.int64)
    lut = np.array([IGNORE_INDEX, *(c - 1 for c in nyu40_table())])
    assert np.array_equal(label, lut[raw])
    table = nyu40_table()
    assert table[21 - 1] == 1 and table[28 - 1] == 8  # wall, door
    assert table[8 - 1] == 38 and table[12 - 1] == 39 and table[1 - 1] == 40
    assert np.all(label[raw == 0] == IGNORE_INDEX)


def test_nyu13_merges_the_40_as_couprie_et_al(nyu_full):
    path, _, labels = nyu_full
    src = open_source("nyu", path, mapping="nyu13")
    assert [c.name for c in src.classes] == list(NYU13_NAMES)
    label, _ = src.load("nyu_0001")
    raw = labels[1]
    names = [c.name for c in src.classes]
    expect = {
        21: "wall",
        28: "wall",
        157: "bed",
        59: "window",
        89: "window",
        172: "tv",
        3: "furniture",
    }
    for original, name in expect.items():
        assert np.all(label[raw == original] == names.index(name))
    assert np.all(label[raw == 1] == names.index("objects"))  # otherprop


def test_classmapping40_mat_is_read_and_equals_the_builtin(nyu_full, tmp_path):
    path, _, _ = nyu_full
    mat = make_class_mapping40(tmp_path / "classMapping40.mat")
    from_mat = make_splits("nyu", path, test=2, options={"mapping": str(mat)})
    builtin = make_splits("nyu", path, test=2, options={"mapping": "nyu40"})
    assert from_mat.options == builtin.options and from_mat.sha256 == builtin.sha256
    assert len(from_mat.options["mapping"]["map"]) == 894
    save_splits(from_mat, tmp_path / "nyu.json")
    mat.unlink()  # the mapping travels inside splits.json
    again = open_split_source(load_splits(tmp_path / "nyu.json"))
    assert [c.name for c in again.classes] == list(NYU40_NAMES)


def test_mapping_mat_problems_are_one_clear_error(nyu_full, tmp_path):
    path, _, _ = nyu_full
    c13 = make_class13_mapping(tmp_path / "class13Mapping.mat")
    with pytest.raises(UserError, match=r"maps the 40 classes to 13.*--mapping nyu13"):
        open_source("nyu", path, mapping=str(c13))
    short = make_class_mapping40(tmp_path / "short.mat", table=[1] * 10)
    with pytest.raises(UserError, match="mapClass has 10 entries but the data file has 894"):
        open_source("nyu", path, mapping=str(short))
    other = tmp_path / "other.mat"
    make_nyu(other, n=1, names=[*nyu_full_names()[:-1], "gadget"])
    with pytest.raises(UserError, match=r"allClassName differs .* at label 894"):
        open_source("nyu", other, mapping=str(make_class_mapping40(tmp_path / "m.mat")))


def test_builtin_mappings_check_the_file_is_nyu_v2(nyu_mat, tmp_path):
    path, _, _ = nyu_mat
    with pytest.raises(UserError, match="defined over NYU v2's 894 labels, but this file has 5"):
        open_source("nyu", path, mapping="nyu40")
    names = nyu_full_names()
    names[20] = "walls"
    renamed = tmp_path / "renamed.mat"
    make_nyu(renamed, n=1, names=names)
    with pytest.raises(
        UserError, match="label 21 is 'walls', but the nyu13 mapping expects 'wall'"
    ):
        open_source("nyu", renamed, mapping="nyu13")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"classes": ["a", "b"], "map": [1, 2]}, "'map' must be an object .* got list"),
        ({"classes": "ab", "map": {"1": 1}}, "'classes' must be a list .* got str"),
        ({"classes": ["a", 3], "map": {}}, "class 1 must be an object with a string 'name'"),
        ({"classes": ["a"], "map": {"1": True}}, "label 1 maps to True"),
        (["a"], "a mapping is"),
    ],
)
def test_bad_json_mappings_say_what_was_expected(nyu_mat, tmp_path, mapping, message):
    path, _, _ = nyu_mat
    file = tmp_path / "map.json"
    file.write_text(json.dumps(mapping))
    with pytest.raises(UserError, match=message) as err:
        open_source("nyu", path, mapping=str(file))
    assert "\n" not in str(err.value) and str(file) in str(err.value)


def test_official_split_from_splits_mat(nyu_full, tmp_path):
    path, _, _ = nyu_full
    mat = make_nyu_splits_mat(tmp_path / "splits.mat", train=[3, 4, 6], test=[2, 1])
    s = make_splits("nyu", path, options={"mapping": "nyu40"}, ids_from=mat)
    assert s.train == ("nyu_0002", "nyu_0003", "nyu_0005") and s.val == ()
    assert s.test == ("nyu_0000", "nyu_0001")
    assert s.params["left_out"] == 1 and s.params["ids_from"] == str(mat)
    again = make_splits("nyu", path, options={"mapping": "nyu40"}, ids_from=mat, seed=5)
    assert again.sha256 == s.sha256  # a fixed list does not depend on the seed
    val = make_splits("nyu", path, options={"mapping": "nyu40"}, ids_from=mat, val=1, seed=1)
    assert len(val.val) == 1 and len(val.train) == 2 and val.test == s.test
    assert set(val.train) | set(val.val) == set(s.train) and val.sha256 != s.sha256
    too_far = make_nyu_splits_mat(tmp_path / "far.mat", train=[1, 7], test=[2])
    with pytest.raises(UserError, match=r"1 listed id.* not in the nyu source.*'nyu_0006'"):
        make_splits("nyu", path, options={"mapping": "nyu40"}, ids_from=too_far)
    with pytest.raises(UserError, match="--test does not apply with --ids-from"):
        make_splits("nyu", path, options={"mapping": "nyu40"}, ids_from=mat, test=1)
    for junk in (b"", b"not a mat file", b"MATLAB 5.0 MAT-file" + b" " * 200):
        (tmp_path / "junk.mat").write_bytes(junk)
        with pytest.raises(UserError, match=r"junk\.mat: cannot read as a MATLAB \.mat file"):
            read_id_lists(tmp_path / "junk.mat", "nyu")
        with pytest.raises(UserError, match=r"junk\.mat: cannot read as a MATLAB \.mat file"):
            open_source("nyu", path, mapping=str(tmp_path / "junk.mat"))


def test_default_size_trains_and_keeps_the_aspect_by_cropping(nyu_full):
    path, _, _ = nyu_full
    s = make_splits("nyu", path, options={"mapping": "nyu40"}, test=1)
    assert s.size == (256, 320) and s.fit == "crop"
    assert len(scales(s.size)) == 7  # the CRN accepts it: 4x5 up to 256x320
    with pytest.raises(UserError, match="image height 240"):
        scales((240, 320))  # the old default
    ds = PairedDataset(s, "train", size=(16, 20))
    index = ds.ids.index("nyu_0004")
    item = ds[index]
    src = open_source("nyu", path, mapping="nyu40")
    label, photo = src.load("nyu_0004")
    assert center_crop(photo, (256, 320)).shape == (48, 60, 3)  # 2 columns off each side
    assert np.array_equal(center_crop(photo, (4, 5)), photo[:, 2:62])
    expect = resize_label(center_crop(label, (256, 320)), (16, 20))
    assert np.array_equal(item["label_index"].numpy(), expect)
    photo_expect = resize_photo(center_crop(photo, (256, 320)), (16, 20))
    assert np.array_equal(
        (item["photo"] * 255).round().byte().permute(1, 2, 0).numpy(), photo_expect
    )
    stretched = make_splits("nyu", path, options={"mapping": "nyu40"}, test=1, fit="stretch")
    assert stretched.sha256 != s.sha256 and stretched.train == s.train


def test_small_label_sets_still_work_without_a_mapping(nyu_mat):
    path, _, _ = nyu_mat
    src = open_source("nyu", path)
    assert [c.name for c in src.classes] == NYU_NAMES


def _v73(path, arrays: dict, strings: dict) -> None:
    """A MATLAB -v7.3 file: a 512-byte text header, then HDF5 with arrays stored transposed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=np.asarray(value).T)
        refs = f.create_group("#refs#")
        for key, texts in strings.items():
            cell = f.create_dataset(key, (1, len(texts)), dtype=h5py.ref_dtype)
            for i, text in enumerate(texts):
                chars = np.array([[ord(c)] for c in text], np.uint16)
                cell[0, i] = refs.create_dataset(f"{key}{i}", data=chars).ref
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116))


def test_v73_resaves_of_the_small_mat_files_are_read(nyu_full, tmp_path):
    path, _, _ = nyu_full
    ids = tmp_path / "splits73.mat"
    _v73(ids, {"trainNdxs": np.array([[1], [2], [5]], float), "testNdxs": [[6]]}, {})
    assert read_id_lists(ids, "nyu")["train"] == ["nyu_0000", "nyu_0001", "nyu_0004"]
    mapping = tmp_path / "classMapping40_73.mat"
    table = np.array([nyu40_table()], np.uint8)
    _v73(mapping, {"mapClass": table}, {"className": list(NYU40_NAMES)})
    a = make_splits("nyu", path, test=1, options={"mapping": str(mapping)})
    assert a.sha256 == make_splits("nyu", path, test=1, options={"mapping": "nyu40"}).sha256
