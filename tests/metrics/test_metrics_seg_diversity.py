"""Segmentation scores and LPIPS-style distances against independent computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from crn.data.classes import IGNORE_INDEX
from crn.data.splits import load_splits
from crn.errors import UserError
from crn.imageset import load_imageset
from crn.vgg import load_vgg19
from metrics.cache import ResultCache
from metrics.diversity import lpips_style, unit_features
from metrics.extract import RunOptions
from metrics.segmentation import confusion, load_segmenter, scores_of, segmentation_rows
from metrics.sets import variant_groups

CPU = torch.device("cpu")


def brute_force_iou(label: np.ndarray, pred: np.ndarray, k: int) -> list[float]:
    """IoU per class by set arithmetic on pixel positions (NaN where a class is absent)."""
    keep = label != IGNORE_INDEX
    out = []
    for c in range(k):
        truth = set(zip(*np.nonzero((label == c) & keep), strict=True))
        guess = set(zip(*np.nonzero((pred == c) & keep), strict=True))
        union = truth | guess
        out.append(len(truth & guess) / len(union) if union else float("nan"))
    return out


def test_confusion_scores_match_brute_force_counts():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 4, (20, 30))
    label[:3] = IGNORE_INDEX
    pred = np.where(rng.random((20, 30)) < 0.7, label % 4, rng.integers(0, 4, (20, 30)))
    pred[label == IGNORE_INDEX] = 0
    result = scores_of(confusion(label, pred, 5))
    expected = brute_force_iou(label, pred, 5)
    np.testing.assert_allclose(result["iou"], expected, equal_nan=True)
    assert result["miou"] == pytest.approx(np.nanmean(expected))
    keep = label != IGNORE_INDEX
    assert result["pixel_acc"] == pytest.approx((label[keep] == pred[keep]).mean())
    per_class = [(pred[keep][label[keep] == c] == c).mean() for c in range(4)]
    assert result["class_acc"] == pytest.approx(np.mean(per_class))


def test_oracle_set_scores_perfectly_and_noise_does_not(sets_env, split_env, segmenter_file):
    _, splits_path, splits = split_env
    seg = load_segmenter(str(segmenter_file), CPU)
    sets = [load_imageset(sets_env / "oracle"), load_imageset(sets_env / "noise")]
    rows, images = segmentation_rows(
        sets, splits, seg, ResultCache(None), RunOptions(progress=False, batch_size=3), CPU
    )
    by = {(r.set, r.metric): r for r in rows}
    assert by[("oracle", "seg_miou")].value == pytest.approx(1.0)
    assert by[("oracle", "seg_class_acc")].value == pytest.approx(1.0)
    assert by[("noise", "seg_miou")].value < 0.5
    present = [m for s, m in by if s == "oracle" and m.startswith("seg_iou:")]
    assert present and all(by[("oracle", m)].value == pytest.approx(1.0) for m in present)
    assert by[("oracle", "seg_miou")].reference_digest == load_splits(splits_path).sha256
    assert {r["metric"] for r in images} == {"seg_pixel_acc", "seg_miou"}


class TwoClasses(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :2]


def test_a_model_with_the_wrong_class_count_is_refused(sets_env, split_env, tmp_path):
    _, _, splits = split_env
    path = tmp_path / "two.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(TwoClasses()), str(path))
    seg = load_segmenter(str(path), CPU)
    with pytest.raises(UserError, match=f"scores 2 classes, the split has {len(splits.classes)}"):
        segmentation_rows(
            [load_imageset(sets_env / "oracle")], splits, seg, ResultCache(None),
            RunOptions(progress=False), CPU,
        )  # fmt: skip


def test_lpips_style_distance_matches_a_numpy_computation():
    net = load_vgg19("random", pool="max", seed=1)
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 32, 48, generator=gen), torch.rand(2, 3, 32, 48, generator=gen)
    with torch.inference_mode():
        got = lpips_style(unit_features(net, a), unit_features(net, b))
        feats_a, feats_b = net(a), net(b)
    expected = np.zeros(2)
    for name in ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2"):
        fa, fb = feats_a[name].numpy(), feats_b[name].numpy()
        na = fa / (np.sqrt((fa**2).sum(axis=1, keepdims=True)) + 1e-10)
        nb = fb / (np.sqrt((fb**2).sum(axis=1, keepdims=True)) + 1e-10)
        expected += ((na - nb) ** 2).sum(axis=1).mean(axis=(1, 2))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    with torch.inference_mode():
        same = lpips_style(unit_features(net, a), unit_features(net, a))
    assert same.abs().max() == 0


def test_variant_groups_need_two_ordered_variants(sets_env):
    sets = [load_imageset(sets_env / f"crn-v{k}") for k in (2, 0, 1)]
    groups = variant_groups(sets)
    assert [s.name for s in groups["crn"]] == ["crn-v0", "crn-v1", "crn-v2"]
    with pytest.raises(UserError, match="needs at least 2 variant sets"):
        variant_groups(sets[:1])


def test_an_interrupted_run_resumes_from_the_committed_batches(sets_env, tmp_path):
    from metrics.extract import compute_cached, image_items

    iset = load_imageset(sets_env / "noise")
    items = image_items(iset, iset.ids)
    batches: list[int] = []
    fail = {"at_batch": 2}

    def compute(x: torch.Tensor) -> list[bytes]:
        batches.append(len(x))
        if len(batches) == fail["at_batch"]:
            raise RuntimeError("interrupted")  # stands in for Ctrl-C (pytest intercepts that)
        return [b"%d" % int(v) for v in x.flatten(1).sum(1)]

    cache = ResultCache(tmp_path / "cache.sqlite")
    opts = RunOptions(progress=False, batch_size=3)
    with pytest.raises(RuntimeError, match="interrupted"):
        compute_cached(items, compute, "test", cache, opts, CPU, "t")
    assert cache.count("test") == 3
    batches.clear()
    fail["at_batch"] = 0
    values = compute_cached(items, compute, "test", ResultCache(cache.path), opts, CPU, "t")
    assert batches == [3, 2] and len(values) == 8
