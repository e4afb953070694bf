"""Tiny label/photo batches and a trainer-like optimiser loop for the baseline tests."""

from __future__ import annotations

import torch

NUM_CLASSES = 4
PALETTE = ((128, 64, 128), (70, 130, 180), (107, 142, 35), (220, 20, 60), (0, 0, 0))


def make_batch(batch: int = 2, size: tuple[int, int] = (32, 64), seed: int = 0) -> dict:
    """Blocky label maps (with some void) and photos coloured by class plus a little noise."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    coarse = torch.randint(0, NUM_CLASSES + 1, (batch, h // 8, w // 8), generator=gen)
    index = coarse.repeat_interleave(8, 1).repeat_interleave(8, 2)
    label = torch.nn.functional.one_hot(index, NUM_CLASSES + 1).permute(0, 3, 1, 2).float()
    colours = torch.tensor(PALETTE, dtype=torch.float32) / 255.0
    photo = colours[index].permute(0, 3, 1, 2)
    photo = (photo + 0.05 * torch.randn(photo.shape, generator=gen)).clamp(0, 1)
    index = torch.where(index == NUM_CLASSES, torch.tensor(255), index)
    ids = [f"img{seed}_{i}" for i in range(batch)]
    return {"id": ids, "label": label, "label_index": index, "photo": photo.contiguous()}


def train_steps(model, batch: dict, steps: int, lr_scale: float = 1.0) -> list[dict]:
    """Run the model's phases like the trainer does; return each step's detached losses."""
    optimisers = {}
    for phase in model.phases():
        params = [p for name in phase.modules for p in model.get_submodule(name).parameters()]
        optimisers[phase.name] = torch.optim.Adam(params, lr=phase.lr * lr_scale, betas=phase.betas)
    history = []
    model.train()
    for step in range(steps):
        logged = {}
        for phase in model.phases():
            model.zero_grad(set_to_none=True)
            losses = model(phase.name, batch, step)
            losses["total"].backward()
            optimisers[phase.name].step()
            logged.update({k: float(v) for k, v in losses.items() if k != "total"})
            logged[f"{phase.name}_total"] = float(losses["total"].detach())
        history.append(logged)
    return history
