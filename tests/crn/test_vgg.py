"""VGG-19: torchvision-format keys, MatConvNet conversion, missing-weights message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crn import vgg
from crn.errors import UserError


def _torchvision_state(seed=0):
    """A random state dict with every key of torchvision's vgg19 (small classifier)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    convs = [*vgg.CONVS, ("conv5_3", 32), ("conv5_4", 34)]
    in_ch = 3
    for name, idx in convs:
        out_ch = vgg._CHANNELS[int(name[4])]
        state[f"features.{idx}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=gen) * 0.05
        state[f"features.{idx}.bias"] = torch.randn(out_ch, generator=gen) * 0.05
        in_ch = out_ch
    for idx in (0, 3, 6):  # torchvision's classifier keys; never used here
        state[f"classifier.{idx}.weight"] = torch.zeros(2, 2)
        state[f"classifier.{idx}.bias"] = torch.zeros(2)
    return state


def test_loads_torchvision_keys_from_a_file(tmp_path):
    state = _torchvision_state()
    path = tmp_path / "vgg19-test.pth"
    torch.save(state, path)
    net = vgg.load_vgg19(str(path))
    assert net.preprocessing == "torchvision"
    for name, idx in vgg.CONVS:
        assert torch.equal(net.features[idx].weight, state[f"features.{idx}.weight"]), name
    assert not any(p.requires_grad for p in net.parameters())
    assert not net.training
    feats = net(torch.rand(1, 3, 32, 64))
    assert list(feats) == ["input", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2"]
    assert [f.shape[1:] for f in feats.values()] == [
        (3, 32, 64), (64, 32, 64), (128, 16, 32), (256, 8, 16), (512, 4, 8), (512, 2, 4),
    ]  # fmt: skip
    assert all((f >= 0).all() for k, f in feats.items() if k != "input")  # after ReLU


def test_a_wrong_shape_is_a_clear_error(tmp_path):
    state = _torchvision_state()
    state["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(UserError, match=r"features\.2\.weight has shape"):
        vgg.load_vgg19(str(path))


def test_missing_weights_say_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    expected = tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    with pytest.raises(UserError) as err:
        vgg.resolve_weights(None)
    message = str(err.value)
    assert str(expected) in message and "--vgg-weights random" in message
    expected.parent.mkdir(parents=True)
    torch.save(_torchvision_state(), expected)
    assert vgg.resolve_weights(None) == str(expected)
    assert vgg.resolve_weights("random") == "random"
    with pytest.raises(UserError, match="no such file"):
        vgg.resolve_weights(str(tmp_path / "nope.pth"))


def test_random_weights_are_seeded_and_leave_global_rng_alone():
    torch.manual_seed(1)
    before = torch.get_rng_state()
    a, b = vgg.load_vgg19("random"), vgg.load_vgg19("random")
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a.features[0].weight, b.features[0].weight)


def test_preprocessing_matches_the_weights():
    image = torch.full((1, 3, 4, 4), 0.5)
    tv = vgg.VGG19(preprocessing="torchvision").preprocess(image)
    mc = vgg.VGG19(preprocessing="matconvnet").preprocess(image)
    assert tv[0, :, 0, 0].tolist() == pytest.approx(
        [(0.5 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.5 - 0.406) / 0.225], rel=1e-5
    )
    assert mc[0, :, 0, 0].tolist() == pytest.approx(
        [127.5 - 123.68, 127.5 - 116.779, 127.5 - 103.939], rel=1e-4
    )


def test_pooling_choice():
    assert isinstance(vgg.VGG19(pool="avg").features[4], torch.nn.AvgPool2d)
    assert isinstance(vgg.VGG19(pool="max").features[4], torch.nn.MaxPool2d)
    with pytest.raises(UserError):
        vgg.VGG19(pool="min")


def test_matconvnet_layers_are_converted(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    layers, expected = [], {}
    for name, idx in vgg.CONVS:
        weight = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)  # kh, kw, in, out
        bias = rng.standard_normal((4, 1)).astype(np.float32)
        cell = np.empty((1, 2), dtype=object)
        cell[0, 0], cell[0, 1] = weight, bias
        layers.append({"name": name, "type": "conv", "weights": cell})
        layers.append(
            {"name": name.replace("conv", "relu"), "type": "relu", "weights": np.empty((0, 0))}
        )
        expected[idx] = (weight, bias)
    cells = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cells[0, i] = layer
    path = tmp_path / "imagenet-vgg-verydeep-19.mat"
    savemat(path, {"layers": cells})
    state = vgg.read_matconvnet(str(path))
    for idx, (weight, bias) in expected.items():
        assert state[f"features.{idx}.weight"].shape == (4, 2, 3, 3)
        assert np.allclose(state[f"features.{idx}.weight"].numpy()[1, 0], weight[:, :, 0, 1])
        assert np.allclose(state[f"features.{idx}.bias"].numpy(), bias.ravel())
    assert vgg.preprocessing_for(str(path)) == "matconvnet"
    assert vgg.describe_weights(str(path)) == "matconvnet:imagenet-vgg-verydeep-19.mat"
