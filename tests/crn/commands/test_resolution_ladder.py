"""The authors' resolution ladder: 256p, then 512p fine-tuning every module, then 1024p
training only the two finest (here 16×32 → 32×64 → 64×128, same module arithmetic)."""

from __future__ import annotations

import pytest
import torch

from crn import cli
from crn.engine.checkpoint import load_checkpoint

BLOCK_PARAMS = (
    "conv1.weight",
    "norm1.weight",
    "norm1.bias",
    "conv2.weight",
    "norm2.weight",
    "norm2.bias",
)


def _train(splits, out, size, k, *extra):
    argv = ["train", "crn", "--splits", str(splits), "--out", str(out), "--size", size]
    argv += ["--width", "0.05", "--k", str(k), "--steps", "2", "--vgg-weights", "random"]
    return cli.main([*argv, "--no-progress", *extra])


def _block(weights, index):
    return {name: weights[f"generator.blocks.{index}.{name}"] for name in BLOCK_PARAMS}


def _moved(before, after):
    """Largest change of a block's parameters (Adam at 1e-4 moves each by <= ~1e-4 a step)."""
    return max(float((after[n] - before[n]).abs().max()) for n in BLOCK_PARAMS)


@pytest.fixture(scope="module")
def ladder(synth_splits, tmp_path_factory):
    """The three runs of the ladder, trained two steps each."""
    root = tmp_path_factory.mktemp("ladder")
    assert _train(synth_splits, root / "p16", "16x32", 2) == 0
    assert (
        _train(synth_splits, root / "p32", "32x64", 1, "--init-from", str(root / "p16/last.pt"))
        == 0
    )
    init = str(root / "p32/last.pt")
    assert (
        _train(
            synth_splits, root / "p64", "64x128", 1, "--init-from", init, "--train-modules", "32,64"
        )
        == 0
    )
    return {name: load_checkpoint(root / name / "last.pt") for name in ("p16", "p32", "p64")}


def test_the_middle_rung_fine_tunes_every_module(ladder):
    low, mid = ladder["p16"].weights, ladder["p32"]
    assert mid.model_args["frozen_modules"] == 0
    assert mid.metadata["trained_modules"] == [4, 8, 16, 32]
    for i in range(3):  # copied from the 16×32 run, then trained
        assert 0 < _moved(_block(low, i), _block(mid.weights, i)) < 5e-4, i
    # every parameter of the generator has Adam state
    generator_params = [k for k in mid.weights if k.startswith("generator.")]
    assert len(mid.optimizers["generator"]["state"]) == len(generator_params)


def test_the_top_rung_trains_only_the_two_finest_modules(ladder):
    mid, top = ladder["p32"].weights, ladder["p64"]
    assert top.model_args["frozen_modules"] == 3
    assert top.metadata["trained_modules"] == [32, 64]
    for i in range(3):  # 4, 8 and 16: loaded and frozen
        for name, value in _block(mid, i).items():
            assert torch.equal(top.weights[f"generator.blocks.{i}.{name}"], value), (i, name)
    assert 0 < _moved(_block(mid, 3), _block(top.weights, 3)) < 5e-4  # 32: loaded, trained
    # Adam holds exactly modules 32 and 64 (6 tensors each) and the output conv (2)
    assert len(top.optimizers["generator"]["state"]) == 2 * 6 + 2


@pytest.mark.parametrize(
    ("which", "init", "message"),
    [
        (
            "16,64",
            "p32",
            "must be the finest ones (the cascade freezes coarse modules only), e.g. 32,64",
        ),
        ("128", "p32", "expected all, new, or module heights among 4,8,16,32,64"),
        ("64", "p16", "lacks module 32, which would stay frozen at its random initialisation"),
        ("32,64", "", "freezing modules needs --init-from CKPT"),
        ("new", "", "--train-modules new needs --init-from CKPT"),
    ],
)
def test_unusable_module_choices_are_one_line_errors(
    ladder, synth_splits, tmp_path, capsys, which, init, message
):
    extra = ["--train-modules", which]
    if init:
        extra += ["--init-from", ladder[init].path]
    assert _train(synth_splits, tmp_path / "bad", "64x128", 1, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(message) and len(err.splitlines()) == 1
    assert not (tmp_path / "bad" / "last.pt").exists()
