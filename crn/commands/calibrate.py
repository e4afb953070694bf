"""`crnkit calibrate`: recompute the perceptual layer weights from a trained checkpoint.

The authors' way: the inverse of each term's mean loss over many batches, with the trained
generator. The result can be passed back with `crnkit train crn --layer-weights FILE.json`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

EXAMPLES = """example:
  crnkit calibrate --checkpoint runs/crn/last.pt --splits splits.json --batches 200 \\
      --out runs/crn/layer_weights.json
  crnkit train crn --splits splits.json --out runs/crn2 --layer-weights runs/crn/layer_weights.json
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Options of `crnkit calibrate`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Layer weights = 1 / mean of each loss term over many batches.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--splits", required=True, help="the splits.json it was trained on")
    parser.add_argument("--split", default="train", choices=("train", "val", "test"))
    parser.add_argument("--batches", type=int, default=100, help="batches to average over")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--vgg-weights", default=None, help="override the recorded VGG file")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None, help="also write the JSON result here")
    return parser


def main(argv: list[str], prog: str) -> int:
    """Entry point of `crnkit calibrate`."""
    ns = build_parser(prog).parse_args(argv)
    from crn.data.splits import load_splits
    from crn.errors import UserError
    from crn.fsutil import atomic_write_text

    if ns.batches < 1 or ns.batch_size < 1:
        raise UserError("--batches and --batch-size must be positive")
    result = calibrate_checkpoint(
        ns.checkpoint,
        load_splits(ns.splits),
        ns.split,
        ns.batches,
        ns.batch_size,
        ns.device,
        ns.vgg_weights,
    )
    text = json.dumps(result, indent=1)
    if ns.out:
        atomic_write_text(ns.out, text + "\n")
    print(text)
    return 0


def calibrate_checkpoint(
    checkpoint: str,
    splits: Any,
    split: str,
    batches: int,
    batch_size: int,
    device: str,
    vgg_weights: str | None,
) -> dict:
    """Inverse term means of a trained model's perceptual loss over `batches` batches."""
    import itertools

    import torch

    from crn.data.dataset import PairedDataset
    from crn.engine.checkpoint import build_model_from_checkpoint
    from crn.engine.distributed import pick_device
    from crn.errors import UserError

    model, ckpt = build_model_from_checkpoint(checkpoint, pick_device(device))
    if ckpt.split_sha256 != splits.sha256:
        raise UserError(f"{checkpoint} was trained on other splits ({ckpt.split_sha256[:12]}…)")
    loss = _fresh_loss(model, ckpt.model, vgg_weights)
    dataset = PairedDataset(splits, split, size=model.image_size)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    on = loss.layer_weights.device
    chosen = list(itertools.islice(loader, batches))
    with torch.no_grad():
        triples = (
            (model.generate(b["label"].to(on)), b["photo"].to(on), b["label"].to(on))
            for b in chosen
        )
        weights = loss.calibrate(triples)
    return {
        "checkpoint": str(checkpoint),
        "step": ckpt.step,
        "split": split,
        "batches": len(chosen),
        "layer_weights": weights,
        "term_means": {name: 1.0 / w for name, w in weights.items()},
    }


def _fresh_loss(model: Any, name: str, vgg_weights: str | None) -> Any:
    """A copy of the model's perceptual loss with "auto" weights and its VGG loaded."""
    import dataclasses

    from crn.errors import UserError
    from crn.losses import PerceptualLoss
    from crn.vgg import resolve_weights

    perceptual = getattr(model, "perceptual", None)
    if not isinstance(perceptual, PerceptualLoss):
        raise UserError(f"model '{name}' has no VGG perceptual loss to calibrate")
    args = dataclasses.replace(perceptual.args, layer_weights="auto")
    if vgg_weights:
        args = dataclasses.replace(args, vgg_weights=resolve_weights(vgg_weights))
    loss = PerceptualLoss(args).to(next(model.parameters()).device)
    loss.load_vgg()
    return loss
