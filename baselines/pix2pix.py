"""pix2pix (Isola et al. 2017): U-Net generator, 70×70 PatchGAN, conditional GAN + λ·L1."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from baselines import options
from baselines.gan_losses import GAN_MODES, GANLoss
from baselines.label_input import LABEL_INPUTS, LabelInput
from baselines.layers import NORMS
from baselines.patchgan import PatchDiscriminator
from baselines.unet import UNetGenerator, max_downsamplings
from crn.engine.interface import Batch, GeneratorModel, Phase


@dataclass(frozen=True)
class Pix2PixArgs:
    """Constructor arguments of `Pix2PixModel` (the paper's settings by default)."""

    num_label_channels: int
    size: tuple[int, int]
    palette: tuple[tuple[int, int, int], ...]
    label_input: str = "onehot"
    ngf: int = 64
    ndf: int = 64
    d_layers: int = 3
    norm: str = "batch"
    dropout: float = 0.5
    gan_mode: str = "vanilla"
    lambda_l1: float = 100.0
    lr: float = 2e-4
    beta1: float = 0.5
    decay_start: float | None = 0.5

    def __post_init__(self) -> None:
        options.check_choice("label input", self.label_input, LABEL_INPUTS)
        options.check_choice("norm", self.norm, NORMS[:2])
        options.check_choice("GAN loss", self.gan_mode, GAN_MODES)
        # The PatchGAN needs 24 px for one logit; 32 keeps its last norm non-degenerate.
        options.check_size(self.size, min_down=2, min_side=32)


class Pix2PixModel(GeneratorModel):
    """The pix2pix conditional GAN; one training step is a D phase then a G phase."""

    name = "pix2pix"
    Args = Pix2PixArgs

    def __init__(self, args: Pix2PixArgs) -> None:
        super().__init__(args)
        self.label_input = LabelInput(args.label_input, args.palette)
        in_ch = self.label_input.channels
        n_down = max_downsamplings(*args.size)
        self.generator = UNetGenerator(in_ch, 3, args.ngf, n_down, args.norm, args.dropout)
        self.discriminator = PatchDiscriminator(in_ch + 3, args.ndf, args.d_layers, args.norm)
        self.gan_loss = GANLoss(args.gan_mode)
        self._pending: tuple[int, torch.Tensor, torch.Tensor] | None = None
        # Isola et al. generate "in exactly the same manner as during the training phase":
        # dropout stays on as the generator's noise (their test script skips eval()).
        self._test_dropout = args.dropout > 0

    @property
    def num_outputs(self) -> int:
        """pix2pix gives one image per label map."""
        return 1

    def generation_dropout(self) -> bool | None:
        """Whether generation keeps dropout on (default: on, as the reference)."""
        return self._test_dropout if self.args.dropout > 0 else None

    def set_generation_dropout(self, enabled: bool) -> None:
        """Keep dropout on (the reference's default) or off when generating."""
        if enabled and self.args.dropout <= 0:
            super().set_generation_dropout(enabled)
        self._test_dropout = enabled

    def generate(self, label: torch.Tensor) -> torch.Tensor:
        """Images [B,1,3,H,W] in [0,1], each image on its own (batch norm and dropout masks
        then see one image, so an output does not depend on its batch neighbours)."""
        x = self.label_input(label)
        per_image = x.shape[0] > 1 and (self.args.norm == "batch" or self._test_dropout)
        with dropout_active(self.generator, self._test_dropout):
            if per_image:
                out = torch.cat([self.generator(x[i : i + 1]) for i in range(x.shape[0])])
            else:
                out = self.generator(x)
        return out.add(1.0).mul_(0.5).clamp_(0.0, 1.0).unsqueeze(1)

    def phases(self) -> list[Phase]:
        """Discriminator first, then generator, both Adam(2e-4, (0.5, 0.999)) with decay."""
        a = self.args
        common = {"lr": a.lr, "betas": (a.beta1, 0.999), "decay_start": a.decay_start}
        return [
            Phase("discriminator", ("discriminator",), **common),
            Phase("generator", ("generator",), **common),
        ]

    def phase_losses(self, phase: str, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """Halved real/fake BCE for the discriminator; GAN + λ·L1 for the generator."""
        if phase == "discriminator":
            return self._discriminator_losses(batch, step)
        if phase == "generator":
            return self._generator_losses(batch, step)
        raise ValueError(f"pix2pix has no phase '{phase}'")

    def _fake(self, batch: Batch, step: int, keep: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(network input, fake image in [-1,1]); the D phase's fake is reused by the G phase."""
        label = batch["label"]
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == step and pending[1] is label:
            return self.label_input(label), pending[2]
        x = self.label_input(label)
        fake = self.generator(x)
        if keep:
            self._pending = (step, label, fake)
        return x, fake

    def _discriminator_losses(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        x, fake = self._fake(batch, step, keep=torch.is_grad_enabled())
        real = batch["photo"] * 2.0 - 1.0
        d_fake = self.gan_loss(self.discriminator(torch.cat([x, fake.detach()], 1)), False)
        d_real = self.gan_loss(self.discriminator(torch.cat([x, real], 1)), True)
        total = 0.5 * (d_fake + d_real)
        return {"total": total, "d_real": d_real.detach(), "d_fake": d_fake.detach()}

    def _generator_losses(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        x, fake = self._fake(batch, step, keep=False)
        real = batch["photo"] * 2.0 - 1.0
        # Gradients flow through D to the fake image only: D's weights are read detached,
        # which spares computing weight gradients nobody steps (pix2pix's set_requires_grad).
        frozen = {n: p.detach() for n, p in self.discriminator.named_parameters()}
        logits = functional_call(self.discriminator, frozen, (torch.cat([x, fake], 1),))
        g_gan = self.gan_loss(logits, True)
        g_l1 = nn.functional.l1_loss(fake, real)
        total = g_gan + self.args.lambda_l1 * g_l1
        return {"total": total, "g_gan": g_gan.detach(), "g_l1": g_l1.detach()}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """pix2pix options: width, label input, norm, GAN loss, λ, Adam and its schedule."""
        group = parser.add_argument_group("pix2pix")
        options.add_width(group, "ngf = ndf = 64 × WIDTH")
        group.add_argument(
            "--label-input",
            choices=LABEL_INPUTS,
            default="onehot",
            help="one-hot channels, or the colourised map as in pix2pix's "
            "Cityscapes model (default: onehot)",
        )
        group.add_argument("--norm", choices=NORMS[:2], default="batch", help="default: batch")
        group.add_argument(
            "--gan-loss",
            choices=GAN_MODES,
            default="vanilla",
            help="vanilla = BCE with logits, lsgan = least squares",
        )
        group.add_argument("--lambda-l1", type=float, default=100.0, help="default: 100")
        options.add_adam(group, lr=2e-4, beta1=0.5, decay_start=0.5)

    @classmethod
    def args_from_namespace(cls, ns: argparse.Namespace, splits: Any) -> Pix2PixArgs:
        """Build the arguments from parsed options and the splits' classes and size."""
        size, channels = options.from_splits(ns, splits)
        return options.build(
            Pix2PixArgs,
            num_label_channels=channels,
            size=size,
            palette=options.palette(splits),
            label_input=ns.label_input,
            ngf=options.scaled(64, ns.width),
            ndf=options.scaled(64, ns.width),
            norm=ns.norm,
            gan_mode=ns.gan_loss,
            lambda_l1=options.non_negative("--lambda-l1", ns.lambda_l1),
            lr=ns.lr,
            beta1=ns.beta1,
            decay_start=ns.decay_start,
        )


@contextlib.contextmanager
def dropout_active(module: nn.Module, active: bool) -> Iterator[None]:
    """Put `module`'s dropout layers in training mode inside the block when `active`."""
    layers = [m for m in module.modules() if isinstance(m, nn.Dropout)] if active else []
    modes = [m.training for m in layers]
    for layer in layers:
        layer.train(True)
    try:
        yield
    finally:
        for layer, mode in zip(layers, modes, strict=True):
            layer.train(mode)
