"""Sizes of the end-to-end demo: the full CPU preset and a tiny one for the pipeline test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoConfig:
    """How much data, training and simulated study the demo runs."""

    images: int = 200
    test_images: int = 24
    size: tuple[int, int] = (64, 128)
    # Measured on the 2-core development machine at 64×128, batch 1 (2 threads): CRN ≈ 0.29
    # s/step (VGG-19's convolutions are most of it), encdec ≈ 0.15, pix2pix ≈ 0.03. These
    # counts keep `make demo` near 5 minutes there; the report's people are simulated, so
    # longer training would change the pictures and metrics, not what the demo exercises.
    # At this width Adam at 5e-4 (the paper's CRN uses 1e-4) reaches in 500 steps the colours
    # that 1e-4 reached in 1,000.
    crn_steps: int = 500
    crn_lr: float = 5e-4
    crn_width: float = 0.1
    crn_k: int = 2
    pix2pix_steps: int = 1200
    encdec_steps: int = 400
    baseline_width: float = 0.25
    batch_size: int = 1
    participants: int = 60
    trials_per_participant: int = 32
    practice_trials: int = 2
    catch_trials: int = 3
    seed: int = 0


PRESETS: dict[str, DemoConfig] = {
    "full": DemoConfig(),
    "tiny": DemoConfig(
        images=24,
        test_images=6,
        size=(32, 64),
        crn_steps=4,
        crn_width=0.05,
        crn_k=2,
        pix2pix_steps=4,
        encdec_steps=4,
        baseline_width=0.05,
        batch_size=2,
        participants=6,
        trials_per_participant=16,
        practice_trials=1,
        catch_trials=2,
    ),
}
