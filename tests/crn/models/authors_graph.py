"""An independent restatement of the authors' TensorFlow graph (CQFIO/PhotographicImageSynthesis).

Written from demo_256p.py / demo_512p.py in plain torch tensor arithmetic, in TensorFlow's
NHWC layout and with TensorFlow's semantics, without crnkit's modules or torch's nn layers:

- `recursive_generator`: at height sp the label (sp × 2sp) is area-downsampled to
  (sp/2 × sp) for the coarser module, whose output is bilinearly upsampled with
  align_corners=True and concatenated *before* the label; every module is two
  slim.conv2d (3×3, SAME, no bias) → slim.layer_norm (ε = 1e-12) → lrelu; the finest adds a
  1×1 conv with bias, (x + 1) / 2 · 255, and splits the 3k channels as channel c·k + i
  → colour c of image i;
- `build_vgg19`: input − mean RGB (0–255), conv + ReLU, 2×2 average pooling;
- `compute_error` and the 256p diversity loss (0.999 Σ_c min_k + 0.001 Σ_c mean_k), and
  the 512p/1024p "simple loss" (plain mean |fake − real| per layer).
"""

from __future__ import annotations

import torch

LAYER_NORM_EPS = 1e-12
VGG_MEAN = (123.68, 116.779, 103.939)
# build_vgg19's convs up to conv5_2, in order; a 2×2 pool precedes conv2_1 … conv5_1.
VGG_LAYERS = tuple(
    f"conv{block}_{i}"
    for block, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 2))
    for i in range(1, n + 1)
)
WEIGHTS_256P = (1.0, 1 / 1.6, 1 / 2.3, 1 / 1.8, 1 / 2.8, 10 / 0.8)
WEIGHTS_512P = (1.0, 1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)


def resize_area(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """tf.image.resize_area for whole-number factors: the mean of each block. x: NHWC."""
    n, h, w, c = x.shape
    fh, fw = h // size[0], w // size[1]
    assert fh * size[0] == h and fw * size[1] == w, "whole-number factors only"
    return x.reshape(n, size[0], fh, size[1], fw, c).mean(dim=(2, 4))


def _lerp_axis(x: torch.Tensor, axis: int, out: int) -> torch.Tensor:
    """Linear interpolation along one axis with align_corners=True (TF's index arithmetic)."""
    size = x.shape[axis]
    scale = (size - 1) / (out - 1) if out > 1 else 0.0
    pos = torch.arange(out, dtype=torch.float32) * scale
    lo = pos.floor().long().clamp(max=size - 1)
    hi = (lo + 1).clamp(max=size - 1)
    frac = (pos - lo).to(x.dtype)
    shape = [1] * x.dim()
    shape[axis] = out
    frac = frac.view(shape)
    return x.index_select(axis, lo) * (1 - frac) + x.index_select(axis, hi) * frac


def resize_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """tf.image.resize_bilinear(..., align_corners=True). x: NHWC."""
    return _lerp_axis(_lerp_axis(x, 1, size[0]), 2, size[1])


def conv_same(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Stride-1 SAME convolution, NHWC input and HWIO weights: zero-pad, gather the kernel
    taps side by side (im2col) and multiply by the weights flattened to (H·W·I, O)."""
    kh, kw, cin, cout = weight.shape
    ph, pw = kh // 2, kw // 2
    n, h, w, _ = x.shape
    padded = x.new_zeros(n, h + 2 * ph, w + 2 * pw, cin)
    padded[:, ph : ph + h, pw : pw + w] = x
    taps = [padded[:, dy : dy + h, dx : dx + w] for dy in range(kh) for dx in range(kw)]
    return torch.cat(taps, dim=3) @ weight.reshape(kh * kw * cin, cout)


def layer_norm(x: torch.Tensor, gamma, beta, eps: float = LAYER_NORM_EPS) -> torch.Tensor:
    """slim.layer_norm: moments over (H, W, C) per sample, then nn.batch_normalization."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True)
    inv = torch.rsqrt(variance + eps) * gamma
    return x * inv + (beta - mean * inv)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """The authors' lrelu: max(0.2x, x)."""
    return torch.maximum(0.2 * x, x)


def recursive_generator(label, sp, params, top, k, eps=LAYER_NORM_EPS):
    """demo_256p.py's recursive_generator; params[sp] holds (w1, g1, b1, w2, g2, b2)."""
    if sp == 4:
        net = label
    else:
        downsampled = resize_area(label, (sp // 2, sp))
        coarse = recursive_generator(downsampled, sp // 2, params, top, k, eps)
        net = torch.cat([resize_bilinear(coarse, (sp, sp * 2)), label], dim=3)
    w1, g1, b1, w2, g2, b2 = params[sp]
    net = lrelu(layer_norm(conv_same(net, w1), g1, b1, eps))
    net = lrelu(layer_norm(conv_same(net, w2), g2, b2, eps))
    if sp == top:
        w_out, b_out = params["out"]
        net = torch.einsum("nhwc,co->nhwo", net, w_out) + b_out
        net = (net + 1.0) / 2.0 * 255.0
        # tf.split(tf.transpose(net, [3,1,2,0]), 3, axis=0) then concat on axis 3 (batch 1)
        planes = net.permute(3, 1, 2, 0)  # [3k, H, W, 1]
        net = torch.cat(torch.split(planes, k, dim=0), dim=3)  # [k, H, W, 3]
    return net


def build_vgg19(images: torch.Tensor, vgg: dict) -> dict:
    """Features of images (NHWC, 0–255) up to conv5_2; vgg maps conv name -> (HWIO, bias)."""
    net = {"input": images - torch.tensor(VGG_MEAN)}
    x = net["input"]
    for name in VGG_LAYERS:
        if name.endswith("_1") and name != "conv1_1":
            n, h, w, c = x.shape  # 2×2 average pooling, stride 2 (even sizes: SAME = VALID)
            x = x.reshape(n, h // 2, 2, w // 2, 2, c).mean(dim=(2, 4))
        weight, bias = vgg[name]
        x = torch.relu(conv_same(x, weight) + bias)
        net[name] = x
    return net


def compute_error(real, fake, label):
    """demo_256p.py's compute_error: mean over H, W of label · mean_c |fake − real| -> [k, C]."""
    return (label * (fake - real).abs().mean(dim=3, keepdim=True)).mean(dim=(1, 2))


LAYERS = ("input", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")


def diversity_loss_256p(real_image, fake, label, vgg, sp, weights=WEIGHTS_256P):
    """G_loss of demo_256p.py: real [1,sp,2sp,3], fake [k,sp,2sp,3] (0–255), label NHWC."""
    vgg_real, vgg_fake = build_vgg19(real_image, vgg), build_vgg19(fake, vgg)
    content = 0
    for i, (name, w) in enumerate(zip(LAYERS, weights, strict=True)):
        mask = label if i < 2 else resize_area(label, (sp >> (i - 1), (2 * sp) >> (i - 1)))
        content = content + compute_error(vgg_real[name], vgg_fake[name], mask) * w
    return content.min(dim=0).values.sum() * 0.999 + content.mean(dim=0).sum() * 0.001


def simple_loss_512p(real_image, fake, vgg, weights=WEIGHTS_512P):
    """G_loss of demo_512p.py / demo_1024p.py: Σ_l w_l · mean |Φ_l(fake) − Φ_l(real)|."""
    vgg_real, vgg_fake = build_vgg19(real_image, vgg), build_vgg19(fake, vgg)
    return sum(
        (vgg_fake[name] - vgg_real[name]).abs().mean() * w
        for name, w in zip(LAYERS, weights, strict=True)
    )
