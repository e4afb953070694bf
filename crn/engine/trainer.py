"""The training loop every registered model shares: phases, Adam, logs, samples, checkpoints."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from crn.engine import distributed as dist_lib
from crn.engine.batches import EpochBatches, to_device
from crn.engine.checkpoint import (
    Checkpoint,
    capture_rng,
    load_weights,
    restore_rng,
    save_checkpoint,
    weights_state,
)
from crn.engine.config import TrainConfig
from crn.engine.interface import GeneratorModel, Phase
from crn.engine.metrics import MetricsLog, RunningMeans
from crn.engine.samples import colorize_labels, masked_l1, sample_grid, save_grid
from crn.errors import UserError

CHECKPOINT_NAME = "last.pt"


class TrainingDivergedError(UserError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class RunData:
    """What a run trains on: datasets (items as `PairedDataset` yields) and split facts.

    `val_set` may be None (no validation split): evaluation then uses training images.
    """

    train_set: Any
    val_set: Any
    split_sha256: str
    classes: tuple = ()


@dataclass
class TrainResult:
    """How a run ended."""

    step: int
    checkpoint: Path | None
    interrupted: bool = False
    last_losses: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Runs the phases of `model_cls` for the configured number of steps."""

    def __init__(
        self,
        model_cls: type[GeneratorModel],
        model_args: Any,
        config: TrainConfig,
        out: str | Path,
        data: RunData,
        *,
        resume_from: Checkpoint | None = None,
        ctx: dist_lib.DistContext | None = None,
        progress: bool = True,
        on_step: Callable[[int, dict[str, float]], None] | None = None,
    ) -> None:
        self.model_cls = model_cls
        self.model_args = model_args
        self.config = config
        self.out = Path(out)
        self.data = data
        self.resume_from = resume_from
        self.ctx = ctx or dist_lib.setup(config.device)
        self.progress = progress
        self.on_step = on_step
        self.log = MetricsLog(self.out / "metrics.jsonl")
        self.running = RunningMeans()
        self.last_losses: dict[str, float] = {}
        self.saved_step: int | None = None
        self.stop_requested = False
        if config.bf16 and self.ctx.device.type not in ("cuda", "mps"):
            raise UserError("--bf16 needs a GPU (bf16 autocast is not useful on this CPU)")

    @property
    def checkpoint_path(self) -> Path:
        """Where the run's checkpoint is kept."""
        return self.out / CHECKPOINT_NAME

    # -- setup -------------------------------------------------------------------------
    def _build(self) -> int:
        """Construct the model, optimisers and batches; return the first step to run."""
        cfg, ctx = self.config, self.ctx
        torch.manual_seed(cfg.seed)
        self.model = self.model_cls.from_args(self.model_args)
        if self.resume_from is None:
            self.model.initialize()
        else:
            load_weights(self.model, self.resume_from.weights)
        self.model.to(ctx.device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.prepare_training()
        self.model.train()
        self.phases = self.model.phases()
        self.optimizers = [make_optimizer(self.model, phase) for phase in self.phases]
        self.batches = EpochBatches(
            self.data.train_set,
            cfg.batch_size,
            cfg.seed,
            ctx.rank,
            ctx.world_size,
            cfg.num_workers,
        )
        self.total = cfg.total_steps(self.batches.steps_per_epoch)
        if self.resume_from is None:
            return 0
        if self.resume_from.step >= self.total:
            raise UserError(
                f"{self.resume_from.path} is already at step {self.resume_from.step}; "
                f"pass --steps (or --epochs) beyond it to train further"
            )
        for phase, optimizer in zip(self.phases, self.optimizers, strict=True):
            optimizer.load_state_dict(self.resume_from.optimizers[phase.name])
        restore_rng(self.resume_from.rng)
        self.last_losses = dict(self.resume_from.last_losses)
        self.saved_step = self.resume_from.step
        return self.resume_from.step

    def _maybe_calibrate(self, step: int) -> None:
        """Let the model set its loss weights after `step` steps, when it asks to, on the first
        global training batches (so all processes agree), before `step`'s checkpoint is saved
        (so a run resumed from it never repeats it)."""
        if not self.model.calibration_due(step):
            return
        count = getattr(getattr(self.model.args, "perceptual", None), "calibration_batches", 4)
        cfg, dataset = self.config, self.data.train_set
        epoch = getattr(dataset, "epoch", None)
        unsharded = EpochBatches(dataset, cfg.batch_size * self.ctx.world_size, cfg.seed)
        batches = [self._device_batch(b) for b in unsharded.first_batches(count)]
        if epoch is not None:
            dataset.set_epoch(epoch)  # the running epoch's flips continue unchanged
        with self._autocast():
            result = self.model.calibrate(batches, step)
        if self.ctx.is_main:
            self.log.append({"step": step, "kind": "calibration", **result})

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train to the configured length (or until interrupted); return how it ended."""
        start = self._build()
        if self.ctx.is_main and self.resume_from is not None:
            self.log.truncate_after(start)
        if self.resume_from is None:
            self._maybe_calibrate(0)
        if self.resume_from is None and self.config.val_every and self.ctx.is_main:
            self.log.append({"step": 0, "epoch": 0, "kind": "val", **self.validate()})
        wrapped = dist_lib.wrap(self.model, self.ctx, find_unused=len(self.phases) > 1)
        step = start
        with self._progress_bar(start) as bar, self._sigint_flag():
            batches = self.batches.iterate(start)
            while step < self.total:
                step, epoch, batch = next(batches)
                losses = self._train_step(wrapped, self._device_batch(batch), step)
                step += 1
                self._maybe_calibrate(step)
                self.running.update(losses)
                self.last_losses = losses
                self._after_step(step, epoch, bar)
                if self.on_step is not None:
                    self.on_step(step, losses)
                if dist_lib.any_flag(self.stop_requested, self.ctx) and step < self.total:
                    self._save(step)
                    return TrainResult(step, self.checkpoint_path, True, self.last_losses)
        if self.saved_step != step:
            self._save(step)
        dist_lib.barrier(self.ctx)
        return TrainResult(step, self.checkpoint_path, False, self.last_losses)

    def _train_step(self, wrapped: torch.nn.Module, batch: dict, step: int) -> dict[str, float]:
        """Run every phase once: zero grads, losses, finite check, backward, Adam step."""
        values: dict[str, float] = {}
        prefix = len(self.phases) > 1
        for phase, optimizer in zip(self.phases, self.optimizers, strict=True):
            factor = lr_factor(phase, step, self.total)
            for group in optimizer.param_groups:
                group["lr"] = phase.lr * factor
            self.model.zero_grad(set_to_none=True)
            with self._autocast():
                losses = wrapped(phase.name, batch, step)
            total = losses["total"]
            if dist_lib.any_flag(not bool(torch.isfinite(total.detach())), self.ctx):
                self._diverged(phase.name, step, float(total.detach()))
            total.backward()
            optimizer.step()
            for key, value in losses.items():
                values[f"{phase.name}.{key}" if prefix else key] = float(value.detach())
        return values

    def _diverged(self, phase: str, step: int, value: float) -> None:
        """Stop with a clear error that names the last good checkpoint."""
        kept = (
            f"the last good checkpoint is {self.checkpoint_path} (step {self.saved_step})"
            if self.saved_step is not None
            else "no checkpoint had been saved yet"
        )
        raise TrainingDivergedError(
            f"loss of phase '{phase}' became {value} at step {step + 1}; {kept} "
            "(try a lower learning rate or check the data)"
        )

    def _after_step(self, step: int, epoch: int, bar: Any) -> None:
        """Log, validate, draw samples and checkpoint at their intervals (main process)."""
        cfg = self.config
        if not self.ctx.is_main:
            return
        bar.update(1)
        if _due(step, cfg.log_every, self.total):
            means = self.running.means()
            self.running.reset()
            lrs = {p.name: p.lr * lr_factor(p, step - 1, self.total) for p in self.phases}
            self.log.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "kind": "train",
                    "time": time.time(),
                    "losses": means,
                    "lr": lrs,
                }
            )
            bar.set_postfix({k: f"{v:.4g}" for k, v in list(means.items())[:4]})
        if _due(step, cfg.val_every, self.total):
            self.log.append({"step": step, "epoch": epoch, "kind": "val", **self.validate()})
        if cfg.sample_every and step % cfg.sample_every == 0:
            self.save_samples(self.out / "samples" / f"step_{step:06d}.png")
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            self._save(step)

    # -- evaluation --------------------------------------------------------------------
    def _eval_items(self, count: int) -> Iterator[dict]:
        """Batches of the first `count` validation images (training images if none)."""
        dataset = self.data.val_set if self.data.val_set is not None else self.data.train_set
        epoch = getattr(dataset, "epoch", None)
        if epoch is not None:
            dataset.set_epoch(0)
        indices = list(range(min(count, len(dataset))))
        size = self.config.batch_size
        try:
            for i in range(0, len(indices), size):
                items = [dataset[j] for j in indices[i : i + size]]
                yield self._device_batch(torch.utils.data.default_collate(items))
        finally:
            if epoch is not None:
                dataset.set_epoch(epoch)  # training images: the running epoch's flips go on

    @torch.no_grad()
    def _outputs(self, batch: dict) -> torch.Tensor:
        """The model's k outputs for a batch, in eval mode."""
        self.model.eval()
        # Dropout at generation draws from a fixed seed, leaving training's RNG untouched.
        noise = self.model.generation_dropout()
        rng = dist_lib.seeded_rng(self.config.seed, self.ctx.device) if noise else None
        try:
            with rng or contextlib.nullcontext(), self._autocast():
                return self.model.generate(batch["label"]).float()
        finally:
            self.model.train()

    def validate(self) -> dict[str, Any]:
        """Masked L1 of the outputs on the validation images: mean over k and best of k."""
        errors = [
            masked_l1(self._outputs(b), b["photo"], b["label"])
            for b in self._eval_items(self.config.val_images)
        ]
        errors = torch.cat(errors)
        return {
            "images": "val" if self.data.val_set is not None else "train",
            "val_l1": float(errors.mean()),
            "val_l1_best": float(errors.min(dim=1).values.mean()),
        }

    def save_samples(self, path: Path) -> None:
        """A PNG grid (label | k outputs | real) of the first validation images."""
        labels, outputs, photos = [], [], []
        for batch in self._eval_items(self.config.sample_images):
            labels += colorize_labels(batch["label_index"], self.data.classes)
            outputs.append(self._outputs(batch))
            photos.append(batch["photo"])
        save_grid(path, sample_grid(labels, torch.cat(outputs), torch.cat(photos)))

    # -- saving ------------------------------------------------------------------------
    def _save(self, step: int) -> None:
        """Write the checkpoint (main process only)."""
        if self.ctx.is_main:
            save_checkpoint(self.checkpoint_path, self.checkpoint_payload(step))
        self.saved_step = step

    def checkpoint_payload(self, step: int) -> dict[str, Any]:
        """Everything contract 2 (docs/contracts.md) asks for, at `step`."""
        return {
            "model": self.model_cls.name,
            "model_args": self.model.args_to_dict(),
            "train_config": dataclasses.asdict(self.config),
            "split_sha256": self.data.split_sha256,
            "step": step,
            "epoch": step // self.batches.steps_per_epoch,
            "optimizers": {
                p.name: o.state_dict() for p, o in zip(self.phases, self.optimizers, strict=True)
            },
            "rng": capture_rng(),
            "weights": weights_state(self.model),
            "metadata": self.model.metadata(),
            "last_losses": dict(self.last_losses),
            "image_size": list(self.model.image_size),
            "num_outputs": self.model.num_outputs,
        }

    # -- helpers -----------------------------------------------------------------------
    def _device_batch(self, batch: dict) -> dict:
        """A batch on the training device."""
        return to_device(batch, self.ctx.device, self.config.channels_last)

    def _autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on a GPU when asked, else nothing."""
        if not self.config.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.ctx.device.type, dtype=torch.bfloat16)

    def _progress_bar(self, start: int) -> Any:
        """A tqdm bar on the main process (disabled elsewhere or when asked)."""
        disable = not (self.progress and self.ctx.is_main)
        return tqdm(
            total=self.total, initial=start, disable=disable, unit="step", dynamic_ncols=True
        )

    @contextlib.contextmanager
    def _sigint_flag(self) -> Iterator[None]:
        """First Ctrl-C asks for a checkpoint at the end of the step; a second one aborts."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            """Ask for a stop; abort if already asked."""
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def make_optimizer(model: torch.nn.Module, phase: Phase) -> torch.optim.Adam:
    """Adam over the trainable parameters of the phase's modules."""
    params = []
    for name in phase.modules:
        params += [p for p in model.get_submodule(name).parameters() if p.requires_grad]
    if not params:
        raise UserError(f"phase '{phase.name}' has no trainable parameters")
    # The fused kernel makes Adam's update of pix2pix's 57 M parameters ~5x cheaper on CPU
    # (measured: 0.67 -> 0.47 s per 256x256 step); the state-dict format is unchanged.
    fused = params[0].device.type in ("cpu", "cuda") and all(p.is_floating_point() for p in params)
    return torch.optim.Adam(
        params,
        lr=phase.lr,
        betas=phase.betas,
        weight_decay=phase.weight_decay,
        fused=fused or None,
    )


def lr_factor(phase: Phase, step: int, total: int) -> float:
    """Learning-rate multiplier at `step`: 1, or linear decay to 0 after decay_start·total."""
    if phase.decay_start is None:
        return 1.0
    start = int(phase.decay_start * total)
    if step < start:
        return 1.0
    return max(0.0, (total - step) / max(1, total - start))


def _due(step: int, every: int, total: int) -> bool:
    """True at every `every`-th step and at the last one (never when `every` is 0)."""
    return bool(every) and (step % every == 0 or step == total)
