"""Throughput of `crnkit metrics`: images/s of FID/KID feature extraction, cold and cached,
against a plain loop in the same run, and of the diversity distances; one JSON line each.

crnkit's extraction decodes on worker threads, runs batches channels-last and writes the
sha256-keyed cache batch by batch; `command` is `crnkit metrics --real R --sets S` end to
end (FID and KID included) and `rerun` the same with every feature cached. The
reference is the plain way to do the same work: one image at a time, decoded in the main
thread, default memory layout, no cache. The two alternate for --rounds rounds and each
keeps its best (a shared machine only ever slows a round down). Random Inception weights
(speed does not depend on them). A plain 512→512 3×3 conv is timed in the same run as the
machine's reference rate.

    flock /tmp/crnkit-cpu.lock python benchmarks/bench_metrics.py
    python benchmarks/bench_metrics.py --images 512 --device cuda
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_steps import conv_rate
from PIL import Image

from crn.imageset import write_imageset
from metrics.extract import RunOptions, decode, image_items
from metrics.networks import load_inception, random_weights
from metrics.run import MetricsRequest, run_metrics


def photo_like(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Smooth colour fields with some texture: PNGs that decode like photos, not like noise."""
    h, w = size
    coarse = rng.integers(0, 256, (h // 32 + 1, w // 32 + 1, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 8, (h, w, 3))
    return np.clip(np.asarray(img, np.float64) + noise, 0, 255).astype(np.uint8)


def make_sets(root: Path, n: int, size: tuple[int, int], names: list[str]) -> list[Path]:
    """Image sets of `n` photo-like images each, sharing ids and split."""
    rng = np.random.default_rng(0)
    out = []
    for name in names:
        images = [(f"img{i:05d}", photo_like(rng, size)) for i in range(n)]
        write_imageset(
            root / name, name=name, kind="generated", source="bench", dataset="bench",
            split_sha256="0" * 64, split="test", size=size, images=images,
        )  # fmt: skip
        out.append(root / name)
    return out


def timed_run(req: MetricsRequest) -> float:
    """Seconds for one full `crnkit metrics` run of `req`."""
    start = time.perf_counter()
    run_metrics(req)
    return time.perf_counter() - start


def features(cache_path: Path | None, folders: list[Path], opts, device: torch.device) -> float:
    """Seconds for crnkit's feature extraction of every image (network load included)."""
    from crn.imageset import load_imageset
    from metrics.cache import ResultCache
    from metrics.fidkid import inception_features

    sets = [load_imageset(f) for f in folders]
    cache = ResultCache(cache_path)
    start = time.perf_counter()
    inception_features(sets, random_weights("inception", 0), cache, opts, device)
    seconds = time.perf_counter() - start
    cache.close()
    return seconds


def plain_loop(folder: Path, count: int, device: torch.device) -> float:
    """Seconds per image: load the network, then decode and run one image at a time."""
    from crn.imageset import load_imageset

    iset = load_imageset(folder)
    items = image_items(iset, iset.ids[:count])
    start = time.perf_counter()
    net = load_inception(random_weights("inception", 0), device).to(
        memory_format=torch.contiguous_format
    )
    with torch.inference_mode():
        for item in items:
            pixels = torch.from_numpy(np.array(decode(item.images[0])))
            x = pixels.permute(2, 0, 1)[None].float() / 255
            net(x.to(device))
    return (time.perf_counter() - start) / len(items)


def inception_gflop() -> float:
    """GFLOP of one forward pass (counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    net = load_inception(random_weights("inception", 0), torch.device("cpu"))
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(torch.rand(1, 3, 64, 64))
    return counter.get_total_flops() / 1e9


def main() -> None:
    """Print one JSON line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="images per set")
    parser.add_argument("--size", default="256x512")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--plain", type=int, default=16, help="images in the plain loop")
    parser.add_argument("--variants", type=int, default=12, help="label maps for diversity")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    ns = parser.parse_args()
    size = tuple(int(v) for v in ns.size.split("x"))
    device = torch.device(ns.device)
    opts = RunOptions(ns.device, ns.batch_size, 2, False, 0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        real, fake = make_sets(root, ns.images, size, ["real", "fake"])
        n = 2 * ns.images
        # The machine is shared: alternate the two ways and keep each one's best round.
        cold, plain = [], []
        for _ in range(ns.rounds):
            cold.append(features(None, [real, fake], opts, device) / n)
            plain.append(plain_loop(real, ns.plain, device))
        req = MetricsRequest(
            metrics=("fid", "kid"), real=str(real), sets=[str(fake)],
            inception_weights="random", cache=root / "cache.sqlite", options=opts,
        )  # fmt: skip
        command = timed_run(req) / n
        warm = timed_run(req) / n
        cached = features(root / "cache.sqlite", [real, fake], opts, device) / n
        rate = conv_rate() if device.type == "cpu" else float("nan")
        gflop = inception_gflop()
        print(json.dumps({
            "what": "fid/kid features", "device": ns.device, "size": ns.size,
            "images": n, "batch_size": ns.batch_size, "rounds": ns.rounds,
            "cold_images_per_s": round(1 / min(cold), 2),
            "plain_loop_images_per_s": round(1 / min(plain), 2),
            "speedup_vs_plain": round(min(plain) / min(cold), 2),
            "cold_rounds_images_per_s": [round(1 / t, 2) for t in cold],
            "plain_rounds_images_per_s": [round(1 / t, 2) for t in plain],
            "command_images_per_s": round(1 / command, 2),
            "rerun_images_per_s": round(1 / warm, 1),
            "cached_features_images_per_s": round(1 / cached, 1),
            "gflop_per_image": round(gflop, 2),
            "cold_gflop_per_s": round(gflop / min(cold), 1),
            "conv_rate_gflop_per_s": round(rate, 1),
        }), flush=True)  # fmt: skip
        variants = make_sets(root, ns.variants, size, ["crn-v0", "crn-v1"])
        div = MetricsRequest(
            metrics=("diversity",), variants=[str(v) for v in variants], vgg_weights="random",
            cache=None, options=opts,
        )  # fmt: skip
        seconds = timed_run(div)
        print(json.dumps({
            "what": "diversity (VGG-19 relu1_2..relu5_2, k=2)", "device": ns.device,
            "size": ns.size, "images": 2 * ns.variants,
            "images_per_s": round(2 * ns.variants / seconds, 2),
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
