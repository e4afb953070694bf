"""crnkit's CRN equals the authors' graph on the same weights (outputs, loss, gradients).

The reference (`authors_graph.py`) restates demo_256p.py / demo_512p.py in TensorFlow's
layout and semantics. fp32 tolerances: outputs and loss within 1e-4 relative, gradients
within 1e-3 (relative to each tensor's largest entry).
"""

from __future__ import annotations

import authors_graph as ref
import pytest
import torch

from crn import vgg as vgg_lib
from crn.losses import LOSS_LAYERS, PerceptualArgs, PerceptualLoss
from crn.models.generator import CRNGenerator, LayerNorm

SIZE = (32, 64)
CLASSES = 20  # 19 Cityscapes classes + void, as the authors' label tensor


def _label(seed: int = 0) -> torch.Tensor:
    """A one-hot map of rectangles [1,C,H,W] whose channels sum to 1 (void included)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = SIZE
    index = torch.full((h, w), CLASSES - 1)
    for _ in range(12):
        y = int(torch.randint(0, h - 3, (1,), generator=gen))
        x = int(torch.randint(0, w - 3, (1,), generator=gen))
        dy, dx = (int(v) for v in torch.randint(3, 14, (2,), generator=gen))
        index[y : y + dy, x : x + dx] = int(torch.randint(0, CLASSES - 1, (1,), generator=gen))
    return torch.nn.functional.one_hot(index, CLASSES).permute(2, 0, 1)[None].float()


def _generator(k: int, eps: float = 1e-12, size=SIZE, width=1 / 16) -> CRNGenerator:
    """A CRN with non-trivial norm scales and shifts and output bias."""
    torch.manual_seed(0)
    net = CRNGenerator(CLASSES, size, width=width, k=k, norm_eps=eps)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, LayerNorm):
                module.weight.copy_(1 + 0.2 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
        net.to_rgb.bias.copy_(0.1 * torch.randn(net.to_rgb.bias.shape, generator=gen))
    return net


def _reference_params(net: CRNGenerator) -> dict:
    """The generator's weights in the authors' layout (HWIO convs, c·k + i output channels)."""
    params = {}
    for (height, _), block in zip(net.scales, net.blocks, strict=True):
        params[height] = tuple(
            t.detach().clone().requires_grad_(True)
            for t in (
                block.conv1.weight.permute(2, 3, 1, 0),
                block.norm1.weight,
                block.norm1.bias,
                block.conv2.weight.permute(2, 3, 1, 0),
                block.norm2.weight,
                block.norm2.bias,
            )
        )
    k = net.k
    order = [3 * i + c for c in range(3) for i in range(k)]  # authors' channel c·k+i
    w_out = net.to_rgb.weight[order, :, 0, 0].t()
    params["out"] = tuple(
        t.detach().clone().requires_grad_(True) for t in (w_out, net.to_rgb.bias[order])
    )
    return params


def _crn_gradients_in_authors_layout(net: CRNGenerator) -> dict:
    """crnkit's parameter gradients arranged like `_reference_params`."""
    grads = {}
    for (height, _), block in zip(net.scales, net.blocks, strict=True):
        grads[height] = (
            block.conv1.weight.grad.permute(2, 3, 1, 0),
            block.norm1.weight.grad,
            block.norm1.bias.grad,
            block.conv2.weight.grad.permute(2, 3, 1, 0),
            block.norm2.weight.grad,
            block.norm2.bias.grad,
        )
    order = [3 * i + c for c in range(3) for i in range(net.k)]
    grads["out"] = (net.to_rgb.weight.grad[order, :, 0, 0].t(), net.to_rgb.bias.grad[order])
    return grads


@pytest.fixture(scope="module")
def vgg():
    """A random VGG-19 with the authors' preprocessing (0–255 minus the mean RGB)."""
    net = vgg_lib.VGG19(pool="avg", preprocessing="matconvnet")
    net.load_state_dict(vgg_lib.load_vgg19("random").state_dict())
    net.eval().to(memory_format=torch.channels_last)
    for p in net.parameters():
        p.requires_grad_(False)
    index = dict(vgg_lib.CONVS)  # conv name -> torchvision features index
    weights = {
        name: (net.features[index[name]].weight.permute(2, 3, 1, 0), net.features[index[name]].bias)
        for name in ref.VGG_LAYERS
    }
    return net, weights


def _loss(net_vgg, spec: str) -> PerceptualLoss:
    loss = PerceptualLoss(PerceptualArgs("random", layer_weights=spec))
    loss.vgg = net_vgg
    return loss


def _relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    ours, theirs = ours.detach(), theirs.detach()
    return float((ours - theirs).abs().max() / theirs.abs().max())


def _photo(seed: int = 3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 8, generator=gen)
    smooth = torch.nn.functional.interpolate(coarse, size=SIZE, mode="bilinear")
    return (smooth + 0.1 * torch.rand(1, 3, *SIZE, generator=gen)).clamp(0, 1)


def test_256p_graph_outputs_loss_and_gradients_match(vgg):
    net_vgg, vgg_weights = vgg
    k = 9
    net, label, photo = _generator(k), _label(), _photo()
    params = _reference_params(net)
    label_nhwc = label.permute(0, 2, 3, 1)
    theirs = ref.recursive_generator(label_nhwc, SIZE[0], params, SIZE[0], k)  # [k,H,W,3]
    their_loss = ref.diversity_loss_256p(
        photo.permute(0, 2, 3, 1) * 255.0, theirs, label_nhwc, vgg_weights, SIZE[0]
    )
    their_loss.backward()

    ours = net(label)  # [1,k,3,H,W] in [0,1]
    our_loss = _loss(net_vgg, "authors-256p")(ours, photo, label)["total"]
    our_loss.backward()

    assert _relative(ours[0].permute(0, 2, 3, 1) * 255.0, theirs.detach()) < 1e-4
    assert float(our_loss.detach()) == pytest.approx(float(their_loss.detach()), rel=1e-4)
    grads = _crn_gradients_in_authors_layout(net)
    for key, tensors in params.items():
        for i, theirs_param in enumerate(tensors):
            assert _relative(grads[key][i], theirs_param.grad) < 1e-3, (key, i)


def test_the_old_epsilon_would_not_match():
    """At the paper's widths the coarse modules' pre-norm variance is tiny: GroupNorm's
    1e-5 visibly changes the output, 1e-12 matches (issue 13, item 1). 8×16, 1024 channels."""
    k, size = 9, (8, 16)
    # Coarse levels of a detailed scene: area averages of many classes per pixel.
    index = torch.randint(0, CLASSES, (32, 64), generator=torch.Generator().manual_seed(5))
    fine = torch.nn.functional.one_hot(index, CLASSES).permute(2, 0, 1)[None].float()
    label = torch.nn.functional.avg_pool2d(fine, 4)
    label_nhwc = label.permute(0, 2, 3, 1)
    results = {}
    for eps in (1e-12, 1e-5):
        net = _generator(k, eps=eps, size=size, width=1.0)
        with torch.no_grad():
            theirs = ref.recursive_generator(
                label_nhwc, size[0], _reference_params(net), size[0], k
            )
            ours = net(label)[0].permute(0, 2, 3, 1) * 255.0
        results[eps] = _relative(ours, theirs)
    assert results[1e-12] < 1e-4 and results[1e-5] > 1e-3, results


def test_512p_simple_loss_is_the_masked_loss_with_one_output(vgg):
    """demo_512p.py's unmasked mean L1 equals crnkit's k = 1 loss: masks sum to one."""
    net_vgg, vgg_weights = vgg
    net, label, photo = _generator(1), _label(1), _photo(4)
    with torch.no_grad():
        ours = net(label)
        our_loss = _loss(net_vgg, "authors-512p")(ours, photo, label)["total"]
        theirs = ref.simple_loss_512p(
            photo.permute(0, 2, 3, 1) * 255.0, ours[:, 0].permute(0, 2, 3, 1) * 255.0, vgg_weights
        )
    assert float(our_loss) == pytest.approx(float(theirs), rel=1e-4)


def test_layer_norm_stays_fp32_and_finite_under_bf16_autocast():
    net = _generator(3)
    flat = torch.zeros(1, CLASSES, *SIZE)
    flat[:, 0] = 1.0  # one class everywhere: near-zero pre-norm variance in coarse modules
    outputs = []
    net.blocks[0].norm1.register_forward_hook(lambda m, i, o: outputs.append(o))
    with torch.no_grad():
        reference = net(_label())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = net(_label())
            constant = net(flat)
    assert all(o.dtype == torch.float32 for o in outputs)
    assert torch.isfinite(mixed).all() and torch.isfinite(constant).all()
    assert (mixed.float() - reference).abs().max() < 0.05 * reference.abs().max()


def test_layer_norm_matches_the_authors_formula_at_tiny_variance():
    norm = LayerNorm(8)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, 8))
        norm.bias.copy_(torch.linspace(-0.1, 0.1, 8))
    x = 1.0 + 1e-3 * torch.randn(2, 8, 4, 8, generator=torch.Generator().manual_seed(0))
    expected = ref.layer_norm(x.permute(0, 2, 3, 1), norm.weight, norm.bias).permute(0, 3, 1, 2)
    assert _relative(norm(x).detach(), expected.detach()) < 1e-4
    assert set(LOSS_LAYERS) == set(ref.LAYERS)
