"""splits.json: official and seeded splits, the hash, atomic save, validated load."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from crn.data.classes import ClassInfo
from crn.data.sources.ade20k import LEGACY_CLASSES
from crn.data.splits import Splits, load_splits, make_splits, open_split_source, save_splits
from crn.data.splits import split_hash as compute_hash
from crn.errors import UserError


def rehash(splits: Splits, **changes) -> str:
    s = dataclasses.replace(splits, **changes)
    return compute_hash(s.source, s.size, s.classes, s.options, s.train, s.val, s.test, s.fit)


def test_random_split_is_seeded_disjoint_and_complete(synth_dir):
    a = make_splits("synthetic", synth_dir, seed=1)
    b = make_splits("synthetic", synth_dir, seed=1)
    c = make_splits("synthetic", synth_dir, seed=2, val=2, test=3)
    assert a == b
    assert len(a.test) == 1 and len(a.val) == 0 and len(a.train) == 11  # 10 % test by default
    assert (len(c.train), len(c.val), len(c.test)) == (7, 2, 3)
    everything = [*c.train, *c.val, *c.test]
    assert sorted(everything) == [f"synth_{k:06d}" for k in range(12)]
    assert list(c.train) == sorted(c.train)
    assert c.size == (32, 64) and c.num_label_channels == 11
    assert c.ids("val") == c.val
    with pytest.raises(UserError, match="unknown split 'dev'"):
        c.ids("dev")
    with pytest.raises(UserError, match="leaves no training ids"):
        make_splits("synthetic", synth_dir, val=6, test=6)


def test_hash_changes_with_any_id_size_class_or_option(synth_dir):
    s = make_splits("synthetic", synth_dir, val=2, test=2)
    assert rehash(s) == s.sha256
    renamed = (*s.train[:-1], "synth_999999")
    assert rehash(s, train=renamed) != s.sha256
    assert rehash(s, train=s.train[1:]) != s.sha256
    assert rehash(s, train=s.train[::-1]) != s.sha256  # order is part of the split
    assert rehash(s, val=s.test, test=s.val) != s.sha256
    assert rehash(s, size=(64, 64)) != s.sha256
    assert rehash(s, classes=s.classes[::-1]) != s.sha256
    assert rehash(s, options={"x": 1}) != s.sha256
    assert rehash(s, source="folders") != s.sha256


def test_hash_ignores_the_root(synth_dir, tmp_path):
    copy = tmp_path / "elsewhere"
    shutil.copytree(synth_dir, copy)
    a = make_splits("synthetic", synth_dir, seed=4, test=3)
    b = make_splits("synthetic", copy, seed=4, test=3)
    assert a.root != b.root and a.sha256 == b.sha256


def test_save_load_roundtrip_and_tamper_detection(synth_dir, tmp_path):
    s = make_splits("synthetic", synth_dir, size="16x32", val=1, test=2, seed=9)
    path = tmp_path / "splits.json"
    save_splits(s, path)
    loaded = load_splits(path)
    assert loaded == s
    data = json.loads(path.read_text())
    assert data["sha256"] == s.sha256 and data["size"] == [16, 32] and data["root"] == s.root
    assert data["classes"][0] == {"name": "road", "color": [128, 64, 128]}
    data["test"][0], data["train"][0] = data["train"][0], data["test"][0]
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="sha256 does not match"):
        load_splits(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("test"), "missing key"),
        (lambda d: d.update(size=[16]), "size must be"),
        (lambda d: d.update(source="mnist"), "unknown source 'mnist'"),
        (lambda d: d.update(val=[d["train"][0]]), "is in both train and val"),
        (lambda d: d.update(format="other"), "not a splits file"),
        (lambda d: d.update(train=["../evil"]), "not usable as a file name"),
    ],
)
def test_load_rejects_bad_files(synth_dir, tmp_path, edit, message):
    path = tmp_path / "s.json"
    save_splits(make_splits("synthetic", synth_dir), path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=message):
        load_splits(path)


def test_load_missing_and_invalid_json(tmp_path):
    with pytest.raises(UserError, match="splits file not found"):
        load_splits(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        load_splits(tmp_path / "bad.json")


def test_cityscapes_official_val_is_the_test_split(cityscapes_root):
    root, _ = cityscapes_root
    s = make_splits("cityscapes", root)
    assert s.test == ("frankfurt_000000_000294", "lindau_000000_000019")
    assert len(s.train) == 3 and s.val == ()
    assert s.size == (256, 512) and s.options == {"labels": "train"}
    v = make_splits("cityscapes", root, val=1, seed=0)
    assert len(v.val) == 1 and v.val[0] not in v.train and v.test == s.test
    assert v.sha256 != s.sha256
    ids = make_splits("cityscapes", root, options={"labels": "ids"})
    assert ids.train == s.train and ids.test == s.test and ids.sha256 != s.sha256
    assert ids.num_label_channels == 36 and s.num_label_channels == 20
    with pytest.raises(UserError, match="--test does not apply"):
        make_splits("cityscapes", root, test=1)


def test_ade20k_official_validation_is_the_test_split(ade_root):
    root, _ = ade_root
    s = make_splits("ade20k", root)
    assert s.test == ("ADE_val_00000001", "ADE_val_00000002") and len(s.train) == 3
    assert s.num_label_channels == 151


def test_nyu_options_are_recorded_and_hashed(nyu_mat, tmp_path):
    path, _, _ = nyu_mat
    plain = make_splits("nyu", path, test=1)
    mapping = {"classes": ["a", "b"], "map": {"1": 1, "2": 2}}
    mapped = make_splits("nyu", path, test=1, options={"mapping": mapping})
    assert plain.options == {"mapping": None} and mapped.options["mapping"]["map"] == {
        "1": 1,
        "2": 2,
    }
    assert plain.train == mapped.train and plain.sha256 != mapped.sha256
    save_splits(mapped, tmp_path / "nyu.json")
    again = load_splits(tmp_path / "nyu.json")
    assert [c.name for c in open_split_source(again).classes] == ["a", "b"]


def test_missing_pair_stops_the_split(cityscapes_root):
    root, _ = cityscapes_root
    (root / "leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png").unlink()
    with pytest.raises(UserError, match="label has no matching photo"):
        make_splits("cityscapes", root)


def test_changed_classes_are_detected(folders_root, tmp_path):
    root, _ = folders_root
    s = make_splits("folders", root)
    assert s.size == (12, 16)
    (root / "classes.json").write_text(json.dumps([{"name": "x", "color": [0, 0, 1]}]))
    with pytest.raises(UserError, match="classes differ"):
        open_split_source(s)


def test_hash_of_a_split_without_new_options_is_unchanged():
    classes = (ClassInfo("road", (128, 64, 128)), ClassInfo("sky", (70, 130, 180)))
    args = ("synthetic", (16, 32), classes, {}, ("a", "b"), (), ("c",))
    # the value crnkit gave this split before "fit" and --ids-from existed
    old = "61cdc7578f95adf1df4d641bbb18907c13820a474f910d34c3561e6955aa8d85"
    assert compute_hash(*args) == old and compute_hash(*args, "stretch") == old
    assert compute_hash(*args, "crop") != old


def test_files_written_before_fit_still_load(synth_dir, tmp_path):
    s = make_splits("synthetic", synth_dir, test=2)
    assert s.fit == "stretch"
    path = tmp_path / "old.json"
    save_splits(s, path)
    data = json.loads(path.read_text())
    assert data["fit"] == "stretch"
    del data["fit"]
    path.write_text(json.dumps(data))
    assert load_splits(path) == s
    data["fit"] = "squash"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="fit 'squash' is not one of stretch, crop"):
        load_splits(path)
    crop = make_splits("synthetic", synth_dir, test=2, fit="crop", size="32x32")
    save_splits(crop, path)
    assert load_splits(path).fit == "crop" and crop.sha256 != s.sha256


def test_ids_from_json_and_text(synth_dir, tmp_path):
    listed = {"train": ["synth_000003", "synth_000001"], "test": ["synth_000007"]}
    (tmp_path / "ids.json").write_text(json.dumps(listed))
    (tmp_path / "ids.txt").write_text(
        "# the same split as text\ntrain synth_000003\n\ntest synth_000007\ntrain synth_000001\n"
    )
    a = make_splits("synthetic", synth_dir, ids_from=tmp_path / "ids.json")
    b = make_splits("synthetic", synth_dir, ids_from=tmp_path / "ids.txt")
    assert a.train == ("synth_000001", "synth_000003") and a.test == ("synth_000007",)
    assert a.sha256 == b.sha256 and a.params["left_out"] == 9
    assert a.params["ids_sha256"] != b.params["ids_sha256"]
    save_splits(a, tmp_path / "a.json")
    c = make_splits("synthetic", synth_dir, ids_from=tmp_path / "a.json")  # a splits.json is a list
    assert c.sha256 == a.sha256


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("dup.txt", "train synth_000001\ntest synth_000001\n", "listed twice"),
        ("bad.txt", "train synth_000001\nholdout synth_000002\n", r"bad\.txt:2: expected"),
        ("none.txt", "# nothing\n", "names no ids"),
        ("unknown.json", '{"train": ["synth_000001", "kitti_1"]}', "not in the synthetic source"),
        ("shape.json", '{"train": "synth_000001"}', "'train' must be a list"),
        ("other.json", '{"ids": []}', 'expected an object with "train"'),
        ("splits.mat", "", "applies to the nyu source only"),
    ],
)
def test_ids_from_errors(synth_dir, tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(UserError, match=message):
        make_splits("synthetic", synth_dir, ids_from=tmp_path / name)


def test_ids_from_cityscapes_may_take_ids_of_either_subset(cityscapes_root, tmp_path):
    root, _ = cityscapes_root
    (tmp_path / "ids.txt").write_text(
        "train frankfurt_000000_000294\ntest aachen_000000_000019\nval bochum_000000_000313\n"
    )
    s = make_splits("cityscapes", root, ids_from=tmp_path / "ids.txt")
    assert (s.train, s.val, s.test) == (
        ("frankfurt_000000_000294",),
        ("bochum_000000_000313",),
        ("aachen_000000_000019",),
    )
    with pytest.raises(UserError, match="names val ids; --val does not apply"):
        make_splits("cityscapes", root, ids_from=tmp_path / "ids.txt", val=1)


def test_cityscapes_authors_labels_are_recorded_and_hashed(cityscapes_root):
    root, _ = cityscapes_root
    train = make_splits("cityscapes", root)
    authors = make_splits("cityscapes", root, options={"labels": "authors"})
    assert authors.options == {"labels": "authors"} and authors.classes == train.classes
    assert authors.train == train.train and authors.sha256 != train.sha256


def test_ade20k_splits_made_with_the_old_class_90_name_stay_usable(ade_root, tmp_path):
    root, _ = ade_root
    s = make_splits("ade20k", root)
    old = dataclasses.replace(s, classes=LEGACY_CLASSES)
    old = dataclasses.replace(old, sha256=rehash(old))
    save_splits(old, tmp_path / "old.json")
    loaded = load_splits(tmp_path / "old.json")
    assert loaded.classes[89].name == "television receiver"
    assert open_split_source(loaded).classes[89].name == "television"
