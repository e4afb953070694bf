"""The vanilla and least-squares GAN losses against real and fake targets."""

from __future__ import annotations

import math

import pytest
import torch

from baselines.gan_losses import GANLoss


def test_vanilla_is_bce_with_logits_against_ones_or_zeros():
    loss = GANLoss("vanilla")
    logits = torch.tensor([[0.0, 2.0], [-1.0, 3.0]])
    real = sum(math.log1p(math.exp(-v)) for v in (0.0, 2.0, -1.0, 3.0)) / 4
    fake = sum(math.log1p(math.exp(v)) for v in (0.0, 2.0, -1.0, 3.0)) / 4
    assert float(loss(logits, True)) == pytest.approx(real, rel=1e-6)
    assert float(loss(logits, False)) == pytest.approx(fake, rel=1e-6)


def test_lsgan_is_mean_squared_distance_to_the_target():
    loss = GANLoss("lsgan")
    logits = torch.tensor([0.5, 1.5, -1.0])
    assert float(loss(logits, True)) == pytest.approx((0.25 + 0.25 + 4.0) / 3)
    assert float(loss(logits, False)) == pytest.approx((0.25 + 2.25 + 1.0) / 3)


def test_confident_correct_logits_give_small_losses():
    loss = GANLoss("vanilla")
    assert float(loss(torch.full((1, 1, 4, 4), 8.0), True)) < 1e-3
    assert float(loss(torch.full((1, 1, 4, 4), -8.0), False)) < 1e-3


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="wgan"):
        GANLoss("wgan")
