"""Every baseline through the real engine: `crnkit train`, exact resume, `crnkit generate`."""

from __future__ import annotations

import pytest
import torch

from crn import cli
from crn.data.splits import load_splits
from crn.engine.checkpoint import load_checkpoint
from crn.imageset import load_imageset, read_image

SIZE = (32, 64)
# Tiny widths: pix2pix/encdec ngf 4, fullres 8 channels, CRN channels / 16.
TINY = {
    "pix2pix": ["--width", "0.0625"],
    "encdec": ["--width", "0.0625", "--vgg-weights", "random"],
    "fullres": ["--width", "0.0625", "--depth", "4", "--vgg-weights", "random"],
    "crn-l1": ["--width", "0.0625"],
}


def train(data, model: str, out: str, steps: int, *extra: str) -> int:
    argv = ["train", model, "--splits", str(data["splits"]), "--out", str(data["root"] / out)]
    argv += ["--steps", str(steps), "--batch-size", "2", "--no-progress", *extra]
    return cli.main(argv)


@pytest.mark.parametrize("model", list(TINY))
def test_train_then_generate_gives_a_valid_set_on_the_real_ids(data, model):
    assert train(data, model, f"runs/{model}", 2, *TINY[model]) == 0
    ckpt = load_checkpoint(data["root"] / "runs" / model / "last.pt")
    splits = load_splits(data["splits"])
    assert (ckpt.model, ckpt.step, ckpt.split_sha256) == (model, 2, splits.sha256)
    assert all(torch.isfinite(torch.tensor(v)) for v in ckpt.last_losses.values())
    out = data["root"] / "sets" / model
    argv = [
        "generate",
        "--checkpoint",
        ckpt.path,
        "--splits",
        str(data["splits"]),
        "--out",
        str(out),
    ]
    assert cli.main([*argv, "--no-progress"]) == 0
    generated, real = load_imageset(out), load_imageset(data["real"])
    assert generated.ids == real.ids == sorted(splits.test)
    assert generated.verify() == []
    assert generated.split_sha256 == splits.sha256
    for image_id in generated.ids:
        image = read_image(generated.path(image_id))
        assert image.shape == (*SIZE, 3)
        assert image.std() > 0  # an image, not a constant


def test_pix2pix_resume_is_exact_for_both_networks_and_optimisers(data):
    opts = [*TINY["pix2pix"], "--seed", "3"]
    assert train(data, "pix2pix", "resume/straight", 5, *opts) == 0
    assert train(data, "pix2pix", "resume/split", 2, *opts) == 0
    assert train(data, "pix2pix", "resume/split", 5, "--resume") == 0
    straight = load_checkpoint(data["root"] / "resume" / "straight" / "last.pt")
    resumed = load_checkpoint(data["root"] / "resume" / "split" / "last.pt")
    assert resumed.step == straight.step == 5
    assert straight.weights.keys() == resumed.weights.keys()
    assert any(k.startswith("discriminator.") for k in straight.weights)
    for key, value in straight.weights.items():
        assert torch.equal(value, resumed.weights[key]), key
    assert set(straight.optimizers) == {"discriminator", "generator"}
    for phase, state in straight.optimizers.items():
        other = resumed.optimizers[phase]["state"]
        assert state["state"].keys() == other.keys()
        for index, slots in state["state"].items():
            for name, tensor in slots.items():
                assert torch.equal(tensor, other[index][name]), (phase, index, name)
    assert straight.last_losses == resumed.last_losses
    # The engine ran both phases every step: D (halved real/fake BCE), then G (GAN + λ·L1).
    assert {"discriminator.d_real", "discriminator.d_fake", "generator.g_l1"} <= set(
        straight.last_losses
    )


def test_runs_list_shows_the_trained_runs(data, capsys):
    assert train(data, "crn-l1", "listed/crn-l1", 1, *TINY["crn-l1"]) == 0
    assert train(data, "pix2pix", "listed/pix2pix", 1, *TINY["pix2pix"]) == 0
    capsys.readouterr()
    argv = ["runs", "list", str(data["root"] / "listed"), "--splits", str(data["splits"])]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    sha = load_splits(data["splits"]).sha256[:12]
    assert [line.split()[:4] for line in out[1:3]] == [
        ["crn-l1", "crn-l1", "1", sha],
        ["pix2pix", "pix2pix", "1", sha],
    ]
    assert out[-1] == "2 run(s)"


def test_unusable_size_is_a_one_line_error_before_training(data, capsys):
    assert train(data, "pix2pix", "bad-size", 1, "--size", "16x64") == 2
    err = capsys.readouterr().err
    assert "image size 16x64: both sides must be at least 32" in err
    assert not (data["root"] / "bad-size" / "last.pt").exists()


def _generate(data, checkpoint, out, *extra):
    argv = ["generate", "--checkpoint", str(checkpoint), "--splits", str(data["splits"])]
    return cli.main([*argv, "--out", str(data["root"] / out), "--no-progress", *extra])


def test_pix2pix_sets_record_dropout_at_generation(data):
    assert train(data, "pix2pix", "dropout/run", 1, *TINY["pix2pix"]) == 0
    ckpt = data["root"] / "dropout" / "run" / "last.pt"
    assert _generate(data, ckpt, "dropout/on") == 0
    assert _generate(data, ckpt, "dropout/again") == 0
    assert _generate(data, ckpt, "dropout/seed1", "--seed", "1") == 0
    assert _generate(data, ckpt, "dropout/off", "--dropout", "off") == 0
    sets = {n: load_imageset(data["root"] / "dropout" / n) for n in ("on", "again", "seed1", "off")}
    assert sets["on"].extra["test_dropout"] is True and sets["on"].extra["seed"] == 0
    assert sets["seed1"].extra["seed"] == 1
    assert sets["off"].extra["test_dropout"] is False and "seed" not in sets["off"].extra
    assert sets["on"].sha256 == sets["again"].sha256  # the seed makes it reproducible
    assert sets["on"].sha256 != sets["seed1"].sha256
    assert sets["on"].sha256 != sets["off"].sha256


def test_dropout_on_for_a_model_without_dropout_is_a_one_line_error(data, capsys):
    assert train(data, "crn-l1", "nodropout/run", 1, *TINY["crn-l1"]) == 0
    ckpt = data["root"] / "nodropout" / "run" / "last.pt"
    assert _generate(data, ckpt, "nodropout/off", "--dropout", "off") == 0
    assert "test_dropout" not in load_imageset(data["root"] / "nodropout" / "off").extra
    capsys.readouterr()
    assert _generate(data, ckpt, "nodropout/on", "--dropout", "on") == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("model 'crn-l1' has no dropout to keep on at generation")
    assert len(err.splitlines()) == 1
    assert not (data["root"] / "nodropout" / "on").exists()
