"""Data-parallel training: 2 CPU processes (gloo) match one process with twice the batch."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp

from crn.engine import distributed as dist_lib
from crn.engine.checkpoint import load_checkpoint
from crn.engine.config import TrainConfig
from crn.engine.trainer import RunData, Trainer
from crn.models.crn import CRNModel


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(batch_size):
    return TrainConfig(
        size=(32, 64), steps=2, batch_size=batch_size, seed=5, device="cpu", log_every=1
    )


def _worker(rank, world, port, args, items, out):
    torch.set_num_threads(1)
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    ctx = dist_lib.setup("cpu")
    try:
        data = RunData(items, None, "f" * 64, ())
        result = Trainer(CRNModel, args, _config(1), out, data, ctx=ctx, progress=False).run()
        assert result.step == 2
    finally:
        dist_lib.teardown(ctx)


def test_two_gloo_processes_match_one_with_double_batch(tmp_path, tiny_crn_args, tiny_pairs):
    items = tiny_pairs(4, seed=1).items
    mp.spawn(
        _worker,
        args=(2, _free_port(), tiny_crn_args, items, str(tmp_path / "ddp")),
        nprocs=2,
        join=True,
    )
    single = Trainer(
        CRNModel,
        tiny_crn_args,
        _config(2),
        tmp_path / "one",
        RunData(items, None, "f" * 64, ()),
        progress=False,
    )
    single.run()
    ddp = load_checkpoint(tmp_path / "ddp" / "last.pt")
    one = load_checkpoint(tmp_path / "one" / "last.pt")
    assert ddp.step == one.step == 2
    for key, value in one.weights.items():
        assert torch.allclose(ddp.weights[key], value, atol=1e-5, rtol=1e-4), key
