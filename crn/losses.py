"""The CRN perceptual loss: masked VGG-19 feature matching with the diversity (min-over-k) term.

For each layer l (pixels, conv1_2 … conv5_2), output k and class c:
L_l[k,c] = mean_HW(mask_c · mean_channels |Φ_l(real) − Φ_l(fake_k)|), masks resized by area
averaging; L = Σ_l w_l L_l; loss = 0.999 Σ_c min_k L[k,c] + 0.001 Σ_c mean_k L[k,c].
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from crn import vgg as vgg_lib
from crn.errors import UserError

LOSS_LAYERS = ("input", *vgg_lib.FEATURE_LAYERS)
# The authors' Cityscapes weights (their VGG file and 0–255 preprocessing), "collected at
# the 100th epoch": demo_256p.py's set, and demo_512p.py's, which demo_1024p.py reuses.
AUTHORS_LAYER_WEIGHTS = {
    "authors-256p": (1.0, 1 / 1.6, 1 / 2.3, 1 / 1.8, 1 / 2.8, 10 / 0.8),
    "authors-512p": (1.0, 1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5),
}
MIN_WEIGHT, MEAN_WEIGHT = 0.999, 0.001
# Feature-map stride of each loss layer relative to the image.
LAYER_STRIDES = {"input": 1, "conv1_2": 1, "conv2_2": 2, "conv3_2": 4, "conv4_2": 8, "conv5_2": 16}


@dataclass(frozen=True)
class PerceptualArgs:
    """VGG weights ("random" or a file), pooling, and the layer-weight spec.

    `layer_weights` is "auto" (inverse term means over the first `calibration_batches`
    training batches), "authors-256p", "authors-512p" ("authors" in older checkpoints means
    the 256p set), or six comma-separated numbers. `calibrate_at` > 0 recomputes the
    weights the auto way after that many training steps and fixes them from then on.
    """

    vgg_weights: str
    vgg_pool: str = "avg"
    layer_weights: str = "auto"
    calibration_batches: int = 4
    calibrate_at: int = 0


def parse_layer_weights(spec: str) -> tuple[float, ...] | None:
    """Explicit weights of a spec (None for "auto"); UserError on a malformed spec."""
    if spec == "auto":
        return None
    if spec in AUTHORS_LAYER_WEIGHTS:
        return AUTHORS_LAYER_WEIGHTS[spec]
    if spec == "authors":
        return AUTHORS_LAYER_WEIGHTS["authors-256p"]
    try:
        values = tuple(float(v) for v in spec.split(","))
    except ValueError:
        values = ()
    if len(values) != len(LOSS_LAYERS) or not all(v >= 0 for v in values):
        raise UserError(
            f"--layer-weights '{spec}': expected default, auto, authors, authors-256p, "
            f"authors-512p, a calibration JSON file or "
            f"{len(LOSS_LAYERS)} non-negative numbers for {', '.join(LOSS_LAYERS)}"
        )
    return values


def add_perceptual_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the VGG perceptual loss, shared by CRN, encdec and fullres."""
    group = parser.add_argument_group("perceptual loss (VGG-19)")
    group.add_argument(
        "--vgg-weights",
        default=None,
        metavar="PATH|random",
        help=f"torchvision {vgg_lib.TORCHVISION_FILE} or the authors' "
        "imagenet-vgg-verydeep-19.mat (default: the torch hub cache file); "
        "'random' trains against an untrained VGG (recorded everywhere)",
    )
    group.add_argument(
        "--vgg-pool",
        choices=("avg", "max"),
        default="avg",
        help="VGG pooling (the authors used avg)",
    )
    group.add_argument(
        "--layer-weights",
        default="default",
        metavar="SPEC",
        help="default (authors for their .mat weights, else auto), auto, authors (their "
        "256p set up to 256 px height, their 512p set above), authors-256p, authors-512p, "
        "a JSON file from `crnkit calibrate`, or six numbers w_input,w_conv1_2,…,w_conv5_2",
    )
    group.add_argument(
        "--calibration-batches",
        type=int,
        default=4,
        metavar="N",
        help="training batches averaged for auto layer weights (default 4)",
    )
    group.add_argument(
        "--calibrate-at",
        type=int,
        default=0,
        metavar="STEP",
        help="recompute the layer weights the auto way after STEP training steps, with the "
        "generator as it is then, and keep them fixed (recorded in metrics.jsonl and the "
        "checkpoint); until then --layer-weights applies (default 0: auto weights are "
        "computed before the first step, other specs are never recomputed)",
    )


def perceptual_args_from_namespace(ns: argparse.Namespace) -> PerceptualArgs:
    """PerceptualArgs from parsed options; resolves the VGG file or raises a clear UserError.

    `ns.size` (H, W), when set, picks the authors' 256p or 512p set for "authors".
    """
    weights = vgg_lib.resolve_weights(ns.vgg_weights)
    spec = ns.layer_weights
    if spec == "default":
        spec = "authors" if vgg_lib.preprocessing_for(weights) == "matconvnet" else "auto"
    elif spec.endswith(".json"):
        spec = _weights_from_json(spec)
    if spec == "authors":
        spec = authors_weights_for(getattr(ns, "size", None))
    parse_layer_weights(spec)
    if ns.calibration_batches < 1:
        raise UserError(f"--calibration-batches {ns.calibration_batches}: expected >= 1")
    calibrate_at = getattr(ns, "calibrate_at", 0)
    if calibrate_at < 0:
        raise UserError(f"--calibrate-at {calibrate_at}: expected a step >= 0")
    return PerceptualArgs(weights, ns.vgg_pool, spec, ns.calibration_batches, calibrate_at)


def authors_weights_for(size: tuple[int, int] | None) -> str:
    """The authors' set for an image size: their 256p weights up to 256 px height, else 512p."""
    return "authors-512p" if size is not None and size[0] > 256 else "authors-256p"


def _weights_from_json(path: str) -> str:
    """The weights written by `crnkit calibrate --out FILE.json`, as a comma spec."""
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return ",".join(repr(float(data["layer_weights"][name])) for name in LOSS_LAYERS)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"--layer-weights {path}: not a calibration file ({err})") from None


def metadata_of(args: PerceptualArgs) -> dict[str, str]:
    """What checkpoints and image sets record about the VGG used for training."""
    return {
        "vgg_weights": vgg_lib.describe_weights(args.vgg_weights),
        "vgg_preprocessing": vgg_lib.preprocessing_for(args.vgg_weights),
        "vgg_pool": args.vgg_pool,
    }


def area_resize(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Soft masks resized by area averaging (exact 2× steps use average pooling)."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    return F.interpolate(masks, size=size, mode="area")


def label_pyramid(label: torch.Tensor, sizes: Iterable[tuple[int, int]]) -> dict:
    """Area-averaged label maps at each size, computed once per step and shared."""
    pyramid = {tuple(label.shape[-2:]): label}
    for size in sorted(set(sizes), key=lambda s: -s[0] * s[1]):
        if size not in pyramid:
            # Downsampling a finer (already area-averaged) level is the same area average.
            finer = min(
                (s for s in pyramid if s[0] >= size[0] and s[1] >= size[1]),
                key=lambda s: s[0] * s[1],
            )
            pyramid[size] = area_resize(pyramid[finer], size)
    return pyramid


def masked_errors(real: torch.Tensor, fake: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """L[b,k,c] = mean_HW(mask[b,c] · mean_ch |real[b] − fake[b,k]|) for one layer.

    real: [B,C,h,w]; fake: [B*k,C,h,w]; masks: [B,M,h,w] -> [B,k,M].
    """
    if real.requires_grad or masks.requires_grad:
        return _masked_errors(real, fake, masks)
    return _MaskedL1.apply(real, fake, masks)


def _masked_errors(real: torch.Tensor, fake: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Plain-autograd version of `masked_errors` (saves |diff|, a k-image-sized tensor)."""
    batch, _, height, width = real.shape
    fake = fake.view(batch, -1, *fake.shape[1:])
    diff = fake - real.unsqueeze(1)
    # In place when nothing needs the difference for backward: one k-image pass fewer.
    diff = (diff.abs() if diff.requires_grad else diff.abs_()).mean(dim=2)  # [B,k,h,w]
    flat_masks = masks.flatten(2).transpose(1, 2).to(diff.dtype)  # [B,hw,M]
    return torch.bmm(diff.flatten(2), flat_masks) / (height * width)


class _MaskedL1(torch.autograd.Function):
    """`masked_errors` for a constant real branch: saves only tensors that already exist
    (the features and masks), not |real − fake|, which saves ~0.5 GB at 256×512, k = 9."""

    @staticmethod
    def forward(ctx, real, fake, masks):
        """The errors, computed without building an autograd graph."""
        ctx.save_for_backward(real, fake, masks)
        with torch.no_grad():
            return _masked_errors(real, fake, masks)

    @staticmethod
    def backward(ctx, grad):
        """d/dfake: sign(fake − real) · Σ_c grad[b,k,c] · mask[b,c] / (h·w·C)."""
        real, fake, masks = ctx.saved_tensors
        batch, channels, height, width = real.shape
        weights = torch.bmm(grad.to(masks.dtype), masks.flatten(2))  # [B,k,hw]
        weights = weights.view(batch, -1, 1, height, width) / (height * width * channels)
        diff = fake.view(batch, -1, *fake.shape[1:]) - real.unsqueeze(1)
        grad_fake = diff.sign_().mul_(weights.to(diff.dtype))
        return None, grad_fake.view_as(fake), None


def diversity_loss(errors: torch.Tensor) -> torch.Tensor:
    """0.999 Σ_c min_k L[k,c] + 0.001 Σ_c mean_k L[k,c], averaged over the batch."""
    best = errors.min(dim=1).values.sum(dim=1)
    mean = errors.mean(dim=1).sum(dim=1)
    return (MIN_WEIGHT * best + MEAN_WEIGHT * mean).mean()


class PerceptualLoss(nn.Module):
    """Masked VGG-19 feature matching with diversity; the VGG is loaded by `load_vgg`."""

    def __init__(self, args: PerceptualArgs) -> None:
        super().__init__()
        self.args = args
        self.vgg: vgg_lib.VGG19 | None = None
        explicit = parse_layer_weights(args.layer_weights)
        initial = torch.tensor(explicit if explicit else (1.0,) * len(LOSS_LAYERS))
        self.register_buffer("layer_weights", initial)
        # True once the weights are final: explicit ones (unless recomputed later), or
        # those computed at step `calibrate_at`. Stored, so a resumed run knows.
        final = explicit is not None and args.calibrate_at == 0
        self.register_buffer("calibrated", torch.tensor(final))
        self.interim_done = False  # "auto" weights for the steps before `calibrate_at`

    def load_vgg(self) -> None:
        """Load the frozen VGG-19 (training only; generation never needs it)."""
        weights = vgg_lib.resolve_weights(self.args.vgg_weights)
        net = vgg_lib.load_vgg19(weights, pool=self.args.vgg_pool)
        self.vgg = net.to(self.layer_weights.device)

    def calibration_due(self, step: int) -> bool:
        """True when weights are to be computed after `step` training steps (0: before any)."""
        at = self.args.calibrate_at
        if step not in (0, at) or bool(self.calibrated):
            return False
        return step == at or (self.args.layer_weights == "auto" and not self.interim_done)

    def metadata(self) -> dict:
        """The weights in use, the spec they came from and the step they were computed at."""
        at, auto = self.args.calibrate_at, self.args.layer_weights == "auto"
        fixed = bool(self.calibrated)
        # Before `calibrate_at`, "auto" weights are the ones computed before the first step.
        computed = (at if auto or at else None) if fixed else (0 if auto else None)
        return {
            "layer_weights": dict(zip(LOSS_LAYERS, self.layer_weights.tolist(), strict=True)),
            "layer_weights_spec": self.args.layer_weights,
            "layer_weights_calibrated_at": computed,
            "layer_weights_fixed": fixed,
        }

    def layer_errors(
        self,
        fake: torch.Tensor,
        real: torch.Tensor,
        label: torch.Tensor,
        pyramid: dict | None = None,
    ) -> dict[str, torch.Tensor]:
        """Per-layer masked errors [B,k,M] of fake [B,k,3,H,W] against real [B,3,H,W]."""
        if self.vgg is None:
            raise RuntimeError("PerceptualLoss.load_vgg() must be called before computing losses")
        with torch.no_grad():
            real_feats = self.vgg(real)
        fake_feats = self.vgg(fake.flatten(0, 1))
        pyramid = pyramid if pyramid is not None else {tuple(label.shape[-2:]): label}
        errors = {}
        for name in LOSS_LAYERS:
            size = tuple(real_feats[name].shape[-2:])
            if size not in pyramid:
                pyramid.update(label_pyramid(label, [size]))
            errors[name] = masked_errors(real_feats[name], fake_feats[name], pyramid[size])
        return errors

    def forward(
        self,
        fake: torch.Tensor,
        real: torch.Tensor,
        label: torch.Tensor,
        pyramid: dict | None = None,
    ) -> dict[str, torch.Tensor]:
        """{"total": diversity loss, "p_<layer>": unweighted per-layer terms (detached)}."""
        errors = self.layer_errors(fake, real, label, pyramid)
        combined = sum(
            w * errors[name] for w, name in zip(self.layer_weights, LOSS_LAYERS, strict=True)
        )
        losses = {"total": diversity_loss(combined)}
        for name in LOSS_LAYERS:
            losses[f"p_{name}"] = term_value(errors[name]).detach()
        return losses

    @torch.no_grad()
    def calibrate(
        self,
        triples: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        final: bool = True,
    ) -> dict[str, float]:
        """Set weights to the inverse mean of each term over (fake, real, label) batches.

        `final=False` sets interim weights (auto weights used until `calibrate_at`).
        """
        sums = torch.zeros(len(LOSS_LAYERS), dtype=torch.float64)
        count = 0
        for fake, real, label in triples:
            errors = self.layer_errors(fake, real, label)
            sums += torch.stack([term_value(errors[n]).double().cpu() for n in LOSS_LAYERS])
            count += 1
        if count == 0:
            raise UserError("no batches to calibrate the layer weights on")
        means = sums / count
        weights = torch.where(means > 0, 1.0 / means.clamp_min(1e-12), torch.ones_like(means))
        self.layer_weights.copy_(weights.float())
        if final:
            self.calibrated.fill_(True)
        else:
            self.interim_done = True
        return dict(zip(LOSS_LAYERS, self.layer_weights.tolist(), strict=True))


def term_value(errors: torch.Tensor) -> torch.Tensor:
    """A layer's term as it enters the objective with unit weight: mean_b Σ_c mean_k L."""
    return errors.mean(dim=1).sum(dim=1).mean()
