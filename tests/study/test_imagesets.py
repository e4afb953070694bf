"""Image sets of a study: loading and checking them together, importing outputs, degrading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from study_helpers import image_ids

from crn.errors import UserError
from crn.imageset import load_imageset, read_image, write_imageset
from study.imageset_tools import degrade_set, import_outputs, read_split
from study.imagesets import load_study_sets, set_digest, study_set_problems
from study.spec import load_spec


def test_load_study_sets_shares_ids_and_digests(study_toml):
    spec = load_spec(study_toml)
    sets = load_study_sets(spec)
    assert set(sets.sets) == {"real", "crn", "pix2pix", "blurred"}
    assert sets.ids_for(spec.comparisons[0]) == image_ids()
    assert sets.ids_for(("real", "blurred")) == image_ids()
    digest = sets.digest("crn")
    assert len(digest) == 64 and digest == set_digest(load_imageset(spec.sets["crn"]))
    assert digest != sets.digest("pix2pix")


def _rewrite(folder: Path, **changes) -> None:
    meta = json.loads((folder / "imageset.json").read_text())
    for key, value in changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    (folder / "imageset.json").write_text(json.dumps(meta))


def test_every_problem_is_listed(study_toml, image_sets):
    pix = image_sets["pix2pix"]
    meta = json.loads((pix / "imageset.json").read_text())
    renamed = {f"x{k}": image_id for k, image_id in enumerate(meta["images"])}
    _rewrite(
        pix,
        images={new: meta["images"][old] for new, old in renamed.items()},
        sha256={new: meta["sha256"][old] for new, old in renamed.items()},
    )
    _rewrite(image_sets["real-blur"], kind="generated")
    (image_sets["crn"] / "images" / "img04.png").write_bytes(b"changed")
    spec = load_spec(study_toml)
    _, problems = study_set_problems(spec)
    assert "comparison crn_vs_pix2pix: sets crn and pix2pix share no image ids" in problems
    assert "catch.bad: set blurred has kind 'generated', expected 'catch'" in problems
    assert any(p.startswith("set crn: crn: ") and "img04.png does not match" in p for p in problems)
    with pytest.raises(UserError, match="problems with the image sets"):
        load_study_sets(spec)
    _, without_hashes = study_set_problems(spec, verify=False)
    assert len(without_hashes) == len(problems) - 1


def test_mismatched_sizes_and_missing_sets(tmp_path, study_toml, image_sets):
    _rewrite(image_sets["pix2pix"], size=[16, 16])
    (image_sets["real"] / "imageset.json").unlink()
    _, problems = study_set_problems(load_spec(study_toml), verify=False)
    assert problems[0].startswith("set real: ") and "imageset.json: not found" in problems[0]
    assert problems[1] == (
        "comparison crn_vs_pix2pix: sets crn and pix2pix differ in size (8x16 vs 16x16), "
        "expected the same"
    )
    assert len(problems) == 2


def _splits(tmp_path: Path, ids=None, size=(8, 16)) -> Path:
    path = tmp_path / "splits.json"
    ids = image_ids() if ids is None else ids
    doc = {"source": "synthetic", "size": size, "train": [], "val": [], "test": ids}
    path.write_text(json.dumps({**doc, "sha256": "f" * 64}))
    return path


def _outputs(folder: Path, ids, size=(8, 16), fmt="png", suffix="") -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {}
    for image_id in ids:
        arrays[image_id] = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(arrays[image_id]).save(folder / f"{image_id}{suffix}.{fmt}")
    return arrays


def test_import_keeps_pixels_and_records_the_split(tmp_path):
    arrays = _outputs(tmp_path / "theirs", image_ids())
    split = read_split(_splits(tmp_path), "test")
    iset, missing, _ = import_outputs(
        tmp_path / "theirs", tmp_path / "out", name="spade", split=split
    )
    assert missing == [] and iset.kind == "imported" and iset.name == "spade"
    assert (iset.split_sha256, iset.dataset, iset.split, iset.size) == (
        "f" * 64,
        "synthetic",
        "test",
        (8, 16),
    )
    assert iset.verify() == []
    for image_id, array in arrays.items():
        assert np.array_equal(read_image(iset.path(image_id)), array)


def test_import_rejects_unknown_ids_and_reports_missing_ones(tmp_path):
    _outputs(tmp_path / "theirs", [*image_ids()[:10], "zzz1", "zzz2"])
    split = read_split(_splits(tmp_path), "test")
    with pytest.raises(
        UserError, match=r"2 file\(s\) are not ids of the 'test' split \(e.g. zzz1, zzz2\)"
    ):
        import_outputs(tmp_path / "theirs", tmp_path / "out", name="x", split=split)
    for extra in ("zzz1", "zzz2"):
        (tmp_path / "theirs" / f"{extra}.png").unlink()
    with pytest.raises(
        UserError,
        match=r"2 of 12 'test' ids have no image \(e.g. img10, img11\); pass --allow-missing",
    ):
        import_outputs(tmp_path / "theirs", tmp_path / "out", name="x", split=split)
    assert not (tmp_path / "out").exists(), "nothing is written when a check fails"
    iset, missing, _ = import_outputs(
        tmp_path / "theirs", tmp_path / "out", name="x", split=split, allow_missing=True
    )
    assert missing == ["img10", "img11"] and len(iset.images) == 10


def test_import_checks_sizes_or_resizes_jpegs_with_suffix(tmp_path):
    _outputs(tmp_path / "theirs", image_ids(), size=(16, 32), fmt="jpg", suffix="_fake_B")
    split = read_split(_splits(tmp_path), "test")
    with pytest.raises(
        UserError, match=r"img00_fake_B.jpg: 16x32 \(HxW\), the split's size is 8x16; pass --resize"
    ):
        import_outputs(
            tmp_path / "theirs", tmp_path / "out", name="p2p", split=split, suffix="_fake_B"
        )
    iset, _, _ = import_outputs(
        tmp_path / "theirs",
        tmp_path / "out",
        name="p2p",
        split=split,
        suffix="_fake_B",
        resize=True,
    )
    assert read_image(iset.path("img03")).shape == (8, 16, 3)


def test_import_refuses_to_replace_without_force(tmp_path):
    _outputs(tmp_path / "theirs", image_ids())
    split = read_split(_splits(tmp_path), "test")
    import_outputs(tmp_path / "theirs", tmp_path / "out", name="a", split=split)
    with pytest.raises(UserError, match="already holds an image set; pass --force"):
        import_outputs(tmp_path / "theirs", tmp_path / "out", name="b", split=split)
    assert load_imageset(tmp_path / "out").name == "a"
    second, _, _ = import_outputs(
        tmp_path / "theirs", tmp_path / "out", name="b", split=split, force=True
    )
    assert second.name == "b" and second.verify() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "splits.json", "theirs"]


def test_read_split_errors(tmp_path):
    with pytest.raises(UserError, match="no id list for split 'dev'"):
        read_split(_splits(tmp_path), "dev")
    path = _splits(tmp_path, size="big")
    with pytest.raises(UserError, match=r"size must be \[height, width\], got 'big'"):
        read_split(path, "test")


@pytest.mark.parametrize("how", ["blur", "noise", "shuffle"])
def test_degrade_is_deterministic_and_clearly_different(tmp_path, image_sets, how):
    source = load_imageset(image_sets["real"])
    first = degrade_set(source, tmp_path / "a", how=how, seed=3)
    second = degrade_set(source, tmp_path / "b", how=how, seed=3)
    other = degrade_set(source, tmp_path / "c", how=how, seed=4)
    assert first.name == f"real-{how}" and first.kind == "catch" and first.ids == source.ids
    assert first.extra["degradation"] == {"how": how, "strength": 1.0, "seed": 3}
    assert first.sha256 == second.sha256
    if how != "blur":
        assert first.sha256 != other.sha256
    for image_id in source.ids:
        before = read_image(source.path(image_id)).astype(float)
        after = read_image(first.path(image_id)).astype(float)
        assert np.abs(before - after).mean() > 20


def test_degrade_shuffle_moves_blocks(tmp_path):
    image = np.arange(8 * 16 * 3, dtype=np.uint8).reshape(8, 16, 3)
    source = write_imageset(
        tmp_path / "src",
        name="s",
        kind="real",
        source="x",
        dataset="d",
        split_sha256="0",
        split="test",
        size=(8, 16),
        images=[("a", image)],
    )
    out = read_image(degrade_set(source, tmp_path / "o", how="shuffle").path("a"))

    def blocks(img):
        return sorted(
            img[r : r + 2, c : c + 4].tobytes() for r in range(0, 8, 2) for c in range(0, 16, 4)
        )

    assert blocks(out) == blocks(image) and not np.array_equal(out, image)


def test_degrade_checks_its_arguments(tmp_path, image_sets):
    source = load_imageset(image_sets["real"])
    with pytest.raises(UserError, match="--strength: expected a positive number, got 0"):
        degrade_set(source, tmp_path / "a", how="blur", strength=0)
    with pytest.raises(UserError, match="--how melt: expected one of blur, noise, shuffle"):
        degrade_set(source, tmp_path / "a", how="melt")
    with pytest.raises(UserError, match="is the set being degraded"):
        degrade_set(source, image_sets["real"], how="blur", force=True)
    assert load_imageset(image_sets["real"]).verify() == []


def test_import_of_a_pix2pixhd_results_folder_selects_by_suffix_and_reports_skips(tmp_path, capsys):
    """pix2pixHD writes <id>_input_label.png beside <id>_synthesized_image.png."""
    from crn.cli import main

    theirs = tmp_path / "results" / "images"
    made = _outputs(theirs, image_ids(), suffix="_synthesized_image")
    _outputs(theirs, image_ids(), suffix="_input_label")
    splits = _splits(tmp_path)
    split = read_split(splits, "test")
    with pytest.raises(UserError) as err:
        import_outputs(theirs, tmp_path / "out", name="hd", split=split)
    assert "24 file(s) are not ids of the 'test' split" in str(err.value)
    assert "--suffix _input_label (12 files) or --suffix _synthesized_image (12 files)" in str(
        err.value
    )
    argv = ["imageset", "import", str(theirs), "--name", "hd", "--splits", str(splits)]
    argv += ["--out", str(tmp_path / "hd"), "--suffix", "_synthesized_image"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "imported 12 images as set 'hd'" in out
    shown = "img00_input_label.png, img01_input_label.png, img02_input_label.png, …"
    assert f"skipped 12 other file(s) ({shown})" in out
    iset = load_imageset(tmp_path / "hd")
    assert np.array_equal(read_image(iset.path("img05")), made["img05"])
    # A glob selects the same files.
    iset, _, skipped = import_outputs(
        theirs,
        tmp_path / "glob",
        name="g",
        split=split,
        pattern="*_synthesized_image.png",
        suffix="_synthesized_image",
    )
    assert len(iset.images) == 12 and len(skipped) == 12
    with pytest.raises(UserError, match=r"no .* files match --glob '\*_fake_B.png'"):
        import_outputs(theirs, tmp_path / "none", name="n", split=split, pattern="*_fake_B.png")
