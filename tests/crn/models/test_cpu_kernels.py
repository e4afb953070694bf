"""The CPU kernels compute what PyTorch's plain kernels compute (float rounding only)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from crn.models import cpu_kernels
from crn.models.generator import CRNGenerator


@pytest.fixture
def everywhere(monkeypatch):
    """Use the GEMM weight gradient and NHWC layout at every size, so small tests reach them."""
    monkeypatch.setattr(cpu_kernels, "MIN_PIXELS", 1)
    monkeypatch.setattr(cpu_kernels, "NHWC_MAX_CHANNELS", 10**6)


def _reference_grads(x, weight, grad):
    x = x.detach().requires_grad_(True)
    weight = weight.detach().requires_grad_(True)
    out = F.conv2d(x, weight, padding=1)
    out.backward(grad)
    return out.detach(), x.grad, weight.grad


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize(
    ("height", "width", "band"), [(10, 7, 4), (5, 9, 32), (8, 8, 8), (1, 6, 3)]
)
def test_weight_grad_equals_torch(layout, height, width, band):
    """Banded GEMMs give the convolution's weight gradient, bands not dividing the height too."""
    torch.manual_seed(0)
    x = torch.randn(2, 5, height, width).contiguous(memory_format=layout)
    weight = torch.randn(3, 5, 3, 3)
    grad = torch.randn(2, 3, height, width).contiguous(memory_format=layout)
    _, _, expected = _reference_grads(x, weight, grad)
    got = cpu_kernels.weight_grad(x, grad, band=band)
    assert got.shape == (3, 5, 3, 3)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_conv3x3_forward_and_backward_match(everywhere, layout):
    """Output, input gradient and weight gradient of the custom 3×3 conv equal F.conv2d's."""
    torch.manual_seed(1)
    x = torch.randn(2, 6, 12, 20).contiguous(memory_format=layout)
    weight = torch.randn(4, 6, 3, 3)
    grad = torch.randn(2, 4, 12, 20)
    ref_out, ref_gx, ref_gw = _reference_grads(x, weight, grad)
    xs, ws = x.clone().requires_grad_(True), weight.clone().requires_grad_(True)
    out = cpu_kernels.conv3x3(xs, ws)
    assert out.grad_fn is not None and "Conv3x3" in type(out.grad_fn).__name__
    out.backward(grad)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(xs.grad, ref_gx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ws.grad, ref_gw, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_pointwise_equals_1x1_conv(layout):
    """The 1×1 output layer as one GEMM equals the convolution for both layouts."""
    torch.manual_seed(2)
    x = torch.randn(2, 7, 5, 6).contiguous(memory_format=layout)
    weight, bias = torch.randn(3, 7, 1, 1), torch.randn(3)
    torch.testing.assert_close(
        cpu_kernels.pointwise(x, weight, bias), F.conv2d(x, weight, bias), rtol=1e-5, atol=1e-5
    )


def test_kernels_apply_only_to_fp32_cpu_without_autocast():
    """bf16 autocast, float64 and the plain_kernels() block fall back to PyTorch's kernels."""
    x = torch.zeros(1, 2, 4, 4)
    assert cpu_kernels.applies(x)
    assert not cpu_kernels.applies(x.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not cpu_kernels.applies(x)
    with cpu_kernels.plain_kernels():
        assert not cpu_kernels.applies(x)
    assert cpu_kernels.applies(x)


def _generator_run(generator, label):
    generator.zero_grad(set_to_none=True)
    out = generator(label)
    (out * torch.linspace(0, 1, out.numel()).view_as(out)).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in generator.named_parameters()}


def test_generator_equals_plain_kernels(everywhere):
    """A whole CRN generator: outputs within 1e-5 and every gradient within 1e-4 (relative)."""
    torch.manual_seed(3)
    generator = CRNGenerator(4, (32, 64), width=0.02, k=2)
    label = F.one_hot(torch.randint(0, 4, (2, 32, 64)), 4).permute(0, 3, 1, 2).float()
    out, grads = _generator_run(generator, label)
    with cpu_kernels.plain_kernels():
        ref_out, ref_grads = _generator_run(generator, label)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    for name, ref in ref_grads.items():
        scale = ref.abs().max().clamp_min(1e-12)
        assert (grads[name] - ref).abs().max() / scale < 1e-4, name
