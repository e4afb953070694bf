"""The FID Inception: pytorch-fid's keys and outputs, loading and refusing weight files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crn.errors import UserError
from metrics.inception import FILE_NAME, FIDInceptionV3
from metrics.networks import file_weights, load_inception, random_weights, resolve_inception

CPU = torch.device("cpu")


def key_driven_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Deterministic weights from each key's rank in sorted order (independent of the module)."""
    out = {}
    for i, key in enumerate(sorted(state)):
        shape = state[key].shape
        if key.endswith("num_batches_tracked"):
            continue
        gen = torch.Generator().manual_seed(1000 + i)
        if key.endswith("running_var"):
            out[key] = 0.5 + torch.rand(shape, generator=gen)
        elif key.endswith(("running_mean", "bias")):
            out[key] = 0.1 * torch.randn(shape, generator=gen)
        elif key.endswith("bn.weight"):
            out[key] = 0.8 + 0.4 * torch.rand(shape, generator=gen)
        else:
            out[key] = torch.randn(shape, generator=gen) * (2.0 / shape[1:].numel()) ** 0.5
    return out


def test_outputs_match_pytorch_fids_network_on_the_same_weights(tmp_path):
    # Golden numbers: pytorch-fid 0.3.0's InceptionV3([3]) (torchvision 0.29.1, torch 2.14.1)
    # with key_driven_weights loaded into its fid_inception_v3 module, on the input below.
    path = tmp_path / FILE_NAME
    torch.save(key_driven_weights(FIDInceptionV3().state_dict()), path)
    net = load_inception(file_weights("inception", path), CPU)
    images = torch.rand(3, 3, 64, 128, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        feats = net(images).double()
    assert feats.shape == (3, 2048)
    assert feats.sum(dim=1).tolist() == pytest.approx([3706.686071, 3726.17977, 3706.002621])
    expected = [
        [0.017283, 5.7707853, 4.8272233, 0.1429628, 9.918458],
        [0.0113065, 5.7252402, 4.9219885, 0.142952, 9.9452848],
        [0.0110268, 5.739687, 4.843009, 0.11947, 9.8218002],
    ]
    np.testing.assert_allclose(feats[:, [3, 100, 517, 1000, 2047]], expected, rtol=1e-4, atol=1e-6)


def test_state_dict_has_the_weights_files_layout():
    state = FIDInceptionV3().state_dict()
    assert tuple(state["Conv2d_1a_3x3.conv.weight"].shape) == (32, 3, 3, 3)
    assert tuple(state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape) == (384, 384, 3, 1)
    assert tuple(state["Mixed_6e.branch7x7dbl_5.bn.running_var"].shape) == (192,)
    assert tuple(state["fc.weight"].shape) == (1008, 2048)
    assert not any(key.startswith("AuxLogits") for key in state)


def test_a_saved_random_module_loads_back_exactly(tmp_path):
    source = load_inception(random_weights("inception", 3), CPU)
    path = tmp_path / "mine.pth"
    # Saved without num_batches_tracked, as in files written by older torch versions.
    state = {k: v for k, v in source.state_dict().items() if "num_batches" not in k}
    torch.save(state, path)
    loaded = load_inception(file_weights("inception", path), CPU)
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(source(x), loaded(x))


def test_wrong_architecture_files_are_refused_in_one_line(tmp_path):
    state = FIDInceptionV3().state_dict()
    torchvision_like = dict(state, **{"fc.weight": torch.zeros(1000, 2048)})
    torch.save(torchvision_like, tmp_path / "tv.pth")
    with pytest.raises(UserError) as err:
        load_inception(file_weights("inception", tmp_path / "tv.pth"), CPU)
    assert "fc.weight has shape (1000, 2048), expected (1008, 2048)" in str(err.value)
    assert "\n" not in str(err.value)
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "vgg.pth")
    with pytest.raises(UserError, match=r"not the FID Inception-v3 weights \(no key Conv2d_1a"):
        load_inception(file_weights("inception", tmp_path / "vgg.pth"), CPU)
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="not a readable torch state dict"):
        load_inception(file_weights("inception", tmp_path / "junk.pth"), CPU)


def test_missing_weights_name_the_file_and_where_it_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError) as err:
        resolve_inception(None)
    message = str(err.value)
    assert FILE_NAME in message and str(tmp_path / "hub" / "checkpoints") in message
    assert "--inception-weights random" in message and "\n" not in message
    with pytest.raises(UserError, match=r"--inception-weights nope\.pth: no such file"):
        resolve_inception("nope.pth")
    assert resolve_inception("random", seed=2).sha256 == "random-inception-seed2"
    hub_file = tmp_path / "hub" / "checkpoints" / FILE_NAME
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(b"x")
    found = resolve_inception(None)
    assert found.path == str(hub_file) and found.label == f"inception:{FILE_NAME}"
