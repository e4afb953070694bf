"""`crnkit train MODEL`: train any registered model on a splits.json."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from crn.engine.registry import MODELS, get_model_class
from crn.errors import UserError

EXAMPLES = """examples:
  crnkit train crn --splits splits.json --out runs/crn --size 64x128 --width 0.25 \\
      --k 3 --steps 2000 --vgg-weights random --val-every 200 --sample-every 500
  crnkit train crn --splits splits.json --out runs/crn --resume --steps 4000
  crnkit train crn --splits splits.json --out runs/crn512 --size 512x1024 \\
      --init-from runs/crn/last.pt --train-only-new --steps 10000
  torchrun --nproc_per_node=4 -m crn.cli train crn --splits splits.json --out runs/crn ...

Ctrl-C saves a checkpoint before exiting; --resume continues it exactly.
"""


def _overview(prog: str) -> str:
    """Help text listing the registered models."""
    return (
        f"usage: {prog} MODEL --splits SPLITS --out DIR [options]\n\n"
        f"Train a registered model. MODEL is one of: {', '.join(MODELS)}.\n"
        f"`{prog} MODEL --help` lists the options of MODEL.\n\n{EXAMPLES}"
    )


def build_parser(model_cls: Any, prog: str) -> argparse.ArgumentParser:
    """The options common to every model plus the model's own."""
    parser = argparse.ArgumentParser(
        prog=f"{prog} {model_cls.name}",
        description=f"Train the '{model_cls.name}' model.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--splits", required=True, help="splits.json from `crnkit data split`")
    add("--out", required=True, help="run folder (last.pt, metrics.jsonl, samples/)")
    add("--size", default=None, metavar="HxW", help="image size (default: the split's)")
    add("--steps", type=int, default=None, help="optimisation steps (wins over --epochs)")
    add("--epochs", type=int, default=None, help="passes over the training split")
    add("--batch-size", type=int, default=1)
    add("--seed", type=int, default=0)
    add("--flip", action="store_true", help="random horizontal flips of training pairs")
    add("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    add("--bf16", action="store_true", help="bf16 autocast (GPU only)")
    add("--channels-last", action="store_true", help="channels-last memory format")
    add("--workers", type=int, default=0, help="data-loading worker processes")
    add("--log-every", type=int, default=10, metavar="N")
    add("--val-every", type=int, default=0, metavar="N", help="masked validation L1 every N")
    add("--val-images", type=int, default=8, metavar="N")
    add("--sample-every", type=int, default=0, metavar="N", help="sample grid PNG every N")
    add("--sample-images", type=int, default=2, metavar="N")
    add("--checkpoint-every", type=int, default=0, metavar="N", help="also save every N steps")
    add("--resume", action="store_true", help="continue the run in --out from last.pt")
    add("--no-progress", action="store_true", help="no progress bar")
    model_cls.add_arguments(parser)
    return parser


def main(argv: list[str], prog: str) -> int:
    """Entry point of `crnkit train`."""
    if not argv or argv[0] in ("-h", "--help"):
        print(_overview(prog))
        return 0
    if argv[0].startswith("-"):
        raise UserError(f"expected a model name first (one of: {', '.join(MODELS)})")
    model_cls = get_model_class(argv[0])
    ns = build_parser(model_cls, prog).parse_args(argv[1:])
    from crn.engine.distributed import teardown
    from crn.engine.trainer import Trainer

    plan = prepare_run(model_cls, ns)
    trainer = Trainer(
        model_cls,
        plan["args"],
        plan["config"],
        ns.out,
        plan["data"],
        resume_from=plan["resume_from"],
        progress=not ns.no_progress,
    )
    try:
        result = trainer.run()
    finally:
        teardown(trainer.ctx)
    if not trainer.ctx.is_main:
        return 0
    if result.interrupted:
        print(
            f"interrupted at step {result.step}; saved {result.checkpoint} "
            f"(continue with --resume)",
            file=sys.stderr,
        )
        return 130
    print(f"trained {model_cls.name} to step {result.step}; checkpoint {result.checkpoint}")
    return 0


def prepare_run(model_cls: Any, ns: argparse.Namespace) -> dict[str, Any]:
    """Model args, training config and datasets of a fresh or resumed run."""
    from crn.data.splits import load_splits
    from crn.engine.checkpoint import load_checkpoint
    from crn.engine.trainer import CHECKPOINT_NAME

    splits = load_splits(ns.splits)
    last = Path(ns.out) / CHECKPOINT_NAME
    resume_from = None
    if ns.resume:
        resume_from = load_checkpoint(last)
        _check_resumable(resume_from, model_cls.name, splits.sha256)
        args = model_cls.args_from_dict(resume_from.model_args)
        config = _resumed_config(resume_from.train_config, ns)
    else:
        if last.exists():
            raise UserError(
                f"{ns.out} already holds a run ({last}); pass --resume to continue "
                "it or choose another --out"
            )
        config = _config(ns, splits)
        ns.size = config.size
        args = model_cls.args_from_namespace(ns, splits)
    return {
        "args": args,
        "config": config,
        "data": _data(splits, config),
        "resume_from": resume_from,
    }


def _check_resumable(ckpt: Any, model: str, split_sha256: str) -> None:
    """A resumed run must be the same model on the same splits."""
    if ckpt.model != model:
        raise UserError(f"{ckpt.path} is a '{ckpt.model}' run, not '{model}'")
    if ckpt.split_sha256 != split_sha256:
        raise UserError(
            f"{ckpt.path} was trained on splits {ckpt.split_sha256[:12]}…, "
            f"not on these ({split_sha256[:12]}…)"
        )


def _config(ns: argparse.Namespace, splits: Any) -> Any:
    """TrainConfig from the command line."""
    from crn.engine.config import TrainConfig, parse_size

    size = parse_size(ns.size) if ns.size else tuple(splits.size)
    return TrainConfig(
        size=size,
        steps=ns.steps,
        epochs=ns.epochs,
        batch_size=ns.batch_size,
        seed=ns.seed,
        flip=ns.flip,
        device=ns.device,
        bf16=ns.bf16,
        channels_last=ns.channels_last,
        num_workers=ns.workers,
        log_every=ns.log_every,
        val_every=ns.val_every,
        val_images=ns.val_images,
        sample_every=ns.sample_every,
        sample_images=ns.sample_images,
        checkpoint_every=ns.checkpoint_every,
    )


def _resumed_config(stored: dict[str, Any], ns: argparse.Namespace) -> Any:
    """The stored config; --steps/--epochs may extend the run, --device may move it."""
    from crn.engine.config import TrainConfig
    from crn.engine.interface import dataclass_from_dict

    config = dataclass_from_dict(TrainConfig, stored)
    changes: dict[str, Any] = {"device": ns.device}
    if ns.steps is not None:
        changes.update(steps=ns.steps, epochs=None)
    elif ns.epochs is not None:
        changes.update(epochs=ns.epochs, steps=None)
    return dataclasses.replace(config, **changes)


def _data(splits: Any, config: Any) -> Any:
    """Training and validation datasets at the configured size."""
    from crn.data.dataset import PairedDataset
    from crn.engine.trainer import RunData

    train = PairedDataset(splits, "train", size=config.size, flip=config.flip, seed=config.seed)
    val = None
    if splits.ids("val"):
        val = PairedDataset(splits, "val", size=config.size, flip=False, seed=config.seed)
    return RunData(train, val, splits.sha256, tuple(splits.classes))
