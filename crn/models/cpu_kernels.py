"""Faster CPU kernels for the CRN generator: the same arithmetic, other memory layouts and GEMMs.

Profiling a 256×512, k = 9 training step on a 2-core AVX-512 CPU (benchmarks/bench_steps.py)
found three avoidable costs, all outside the forward convolutions:

- oneDNN's weight-gradient kernel runs 10–15 % below its forward rate on the 512-channel
  modules (128×256, 256×512) and worse with their 532- or 1044-channel inputs, which are
  not multiples of its channel block. Here it is nine GEMMs over row bands of the padded
  input (one per 3×3 tap), which MKL runs near its peak for any channel count.
- In NCHW every oneDNN call reorders its activations to a blocked layout and back (six full
  passes per layer and step, each into freshly faulted pages). oneDNN's NHWC kernels need
  no reorder and run the 512-channel shapes faster; the 1024-channel modules at 64×128
  and below run faster in NCHW, so each module takes the layout that is faster for it.
- The 1×1 output conv ran as a convolution at ~7 GFLOP/s; it is a GEMM.

Every path computes the same sums in a different order (float rounding only; tested against
the plain kernels). They apply to fp32 on the CPU outside autocast; everywhere else (CUDA,
MPS, bf16 autocast) the plain PyTorch calls run unchanged. `plain_kernels()` switches them
off, for the benchmark's same-run reference and for tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

# Rows of output per GEMM band: small enough that a band's padded copies stay a few tens of
# MB (no extra peak memory at 256×512), large enough that each GEMM's inner dimension
# (rows·(W+2) pixels) keeps MKL at full rate (measured: 16–32 rows best at 128–512 px width).
BAND_ROWS = 32
# The GEMM weight gradient and NHWC layout pay off from this many pixels per image with at
# most NHWC_MAX_CHANNELS channels (measured per module shape; below, oneDNN's NCHW wins).
MIN_PIXELS = 128 * 256
NHWC_MAX_CHANNELS = 512

_enabled = True


@contextlib.contextmanager
def plain_kernels() -> Iterator[None]:
    """Run the generator with PyTorch's plain kernels inside this block (same numbers)."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def applies(x: torch.Tensor) -> bool:
    """True when the CPU kernels are used for `x`: fp32 on the CPU, autocast off, enabled."""
    return (
        _enabled
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
    )


def module_layout(x: torch.Tensor, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """`x` in the memory layout faster for a refinement module of `channels` at `size`.

    Only NCHW inputs are re-laid: a channels-last input (the user's `--channels-last`)
    keeps that layout throughout.
    """
    if not applies(x) or not x.is_contiguous():
        return x
    if channels <= NHWC_MAX_CHANNELS and size[0] * size[1] >= MIN_PIXELS:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling (align_corners=True) whose incoming gradient is made dense first.

    Concatenated with the label masks, the upsampled map's gradient arrives as a channel
    slice of the concatenation's gradient; on an NHWC slice PyTorch's CPU backward takes a
    slow strided path (measured 0.45 s against 0.12 s at 256×512, 512 channels).
    """
    out = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    if applies(x) and out.requires_grad:
        layout = layout_of(x)
        out.register_hook(lambda grad: grad.contiguous(memory_format=layout))
    return out


def conv3x3(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """3×3 convolution, padding 1, no bias; GEMM weight gradient on large CPU feature maps."""
    if applies(x) and x.shape[-2] * x.shape[-1] >= MIN_PIXELS and weight.requires_grad:
        return _Conv3x3.apply(x, weight)
    return F.conv2d(x, weight, padding=1)


def pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """1×1 convolution [B,C,H,W] → [B,O,H,W] as one GEMM on the CPU."""
    if not applies(x):
        return F.conv2d(x, weight, bias)
    batch, channels, height, width = x.shape
    matrix = weight.view(weight.shape[0], channels)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        pixels = x.permute(0, 2, 3, 1).reshape(-1, channels)  # a view: NHWC is [BHW, C]
        out = torch.addmm(bias, pixels, matrix.t())
        return out.view(batch, height, width, -1).permute(0, 3, 1, 2)
    out = torch.matmul(matrix, x.reshape(batch, channels, -1)) + bias.view(1, -1, 1)
    return out.view(batch, -1, height, width)


class _Conv3x3(torch.autograd.Function):
    """F.conv2d(x, w, padding=1) whose weight gradient is computed by `weight_grad`."""

    @staticmethod
    def forward(ctx, x, weight):
        """oneDNN's forward convolution."""
        ctx.save_for_backward(x, weight)
        return F.conv2d(x, weight, padding=1)

    @staticmethod
    def backward(ctx, grad):
        """oneDNN's data gradient; the weight gradient as banded GEMMs."""
        x, weight = ctx.saved_tensors
        grad = grad.contiguous(memory_format=layout_of(x))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                [True, False, False],
            )[0]  # fmt: skip
        grad_w = weight_grad(x, grad).contiguous(memory_format=layout_of(weight))
        return grad_x, grad_w


def layout_of(t: torch.Tensor) -> torch.memory_format:
    """channels_last for an NHWC tensor (not also NCHW-contiguous), else contiguous_format."""
    nhwc = t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()
    return torch.channels_last if nhwc else torch.contiguous_format


def weight_grad(x: torch.Tensor, grad: torch.Tensor, band: int = BAND_ROWS) -> torch.Tensor:
    """dL/dW [O,C,3,3] of a 3×3, padding-1 convolution from its input x and output grad.

    The input is copied band by band into a zero-padded buffer W+2 pixels wide with one spare
    row; tap (i, j)'s input window is then the same buffer shifted by i·(W+2) + j pixels, so
    each tap's gradient is one GEMM of the band's output gradient (zero-extended to W+2
    columns) with that shifted view, and no im2col copy is made.
    """
    batch, channels, height, width = x.shape
    outs = grad.shape[1]
    nhwc = layout_of(x) == torch.channels_last
    padded_w = width + 2
    rows = min(band, height)
    taps = x.new_zeros(9, outs, channels)
    if nhwc:
        xp = x.new_zeros(rows + 3, padded_w, channels)
        gp = x.new_zeros(rows, padded_w, outs)
    else:
        xp = x.new_zeros(channels, rows + 3, padded_w)
        gp = x.new_zeros(outs, rows, padded_w)
    for b in range(batch):
        for top in range(0, height, rows):
            n = min(rows, height - top)
            _fill_band(x[b], grad[b], xp, gp, top, n, nhwc)
            span = n * padded_w
            if nhwc:
                xf, gf = xp.view(-1, channels), gp.view(-1, outs)[:span].t()
            else:
                xf, gf = xp.view(channels, -1).t(), gp.view(outs, -1)[:, :span]
            for tap in range(9):
                offset = (tap // 3) * padded_w + tap % 3
                taps[tap].addmm_(gf, xf[offset : offset + span])
    return taps.view(3, 3, outs, channels).permute(2, 3, 0, 1)


def _fill_band(x, grad, xp, gp, top: int, n: int, nhwc: bool) -> None:
    """Copy input rows top−1 … top+n (zero outside the image) and grad rows top … top+n−1."""
    height, width = x.shape[-2:]
    first, last = max(top - 1, 0), min(top + n + 1, height)  # input rows present
    start = first - (top - 1)  # their first row in the buffer (1 at the image's top edge)
    if nhwc:
        xp[:start].zero_()
        xp[start : start + last - first, 1 : width + 1] = x[:, first:last].permute(1, 2, 0)
        xp[start + last - first :].zero_()
        gp[:n, :width] = grad[:, top : top + n].permute(1, 2, 0)
    else:
        xp[:, :start].zero_()
        xp[:, start : start + last - first, 1 : width + 1] = x[:, first:last]
        xp[:, start + last - first :].zero_()
        gp[:, :n, :width] = grad[:, top : top + n]
