"""`crnkit demo`: the whole journey on synthetic data, from pixels to a realism-study report."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import tomli_w

from crn.demo_config import PRESETS, DemoConfig
from crn.errors import UserError
from crnkit_common.responses import PAPER_EXPOSURES_MS

EXAMPLE = """example:
  crnkit demo --out demo-out            # about 5 minutes on 2 CPU cores
  crnkit demo --out /tmp/d --preset tiny  # a tiny smoke run (under 2 minutes)

Without VGG-19 weights on the machine the demo uses the explicit random-weights fallback
(--vgg-weights random) and says so; pass --vgg-weights PATH to use real ones.
"""
BASELINES = ("pix2pix", "encdec")
# How often simulated people pick the comparison's first method, rising with exposure time
# (p(t) = 0.5 + (p_max − 0.5) / (1 + exp(−(log t − log t50) / s))): the demo's people are
# simulated, so these shapes are assumptions that exercise the analysis, not findings.
SIMULATED_CURVES = (
    "crn_vs_pix2pix:p_max=0.85,t50=300,s=0.8",
    "crn_vs_encdec:p_max=0.8,t50=300,s=0.8",
    "crn_vs_real:p_max=0.3,t50=600,s=0.8",
    "pix2pix_vs_real:p_max=0.1,t50=300,s=0.8",
)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run data → training → image sets → study → simulated people → report.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="demo-out", help="folder for every artefact")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--vgg-weights", default=None, help="VGG-19 file (default: hub cache)")
    parser.add_argument("--port", type=int, default=0, help="study server port (0 = any free)")
    return parser


# (stage, start time) of every stage announced so far: the summary prints how long each took.
_STAGES: list[tuple[str, float]] = []


def _say(message: str) -> None:
    _STAGES.append((message, time.monotonic()))
    print(f"\n==> {message}", flush=True)


def _stage_times() -> None:
    """Print the wall time of each stage, so that a reader sees where the demo's time goes."""
    ends = [start for _, start in _STAGES[1:]] + [time.monotonic()]
    print("\n  time per stage:")
    for (message, start), end in zip(_STAGES, ends, strict=True):
        print(f"  {end - start:7.1f} s  {message}")
    total = ends[-1] - _STAGES[0][1]
    print(f"  {total:7.1f} s  in all ({total / 60:.1f} min)")


def _crnkit(*argv: object) -> None:
    """Run one `crnkit` command in this process; stop the demo on its error."""
    from crn import cli

    args = [str(a) for a in argv]
    print("$ crnkit " + " ".join(args), flush=True)
    if cli.main(args) != 0:
        raise UserError(f"demo step failed: crnkit {' '.join(args)}")


def _vgg_choice(requested: str | None) -> tuple[str, bool]:
    """(--vgg-weights value, whether the random fallback is used)."""
    from crn.vgg import default_weights_path

    if requested:
        return requested, requested == "random"
    if default_weights_path().is_file():
        return str(default_weights_path()), False
    return "random", True


def _data(cfg: DemoConfig, out: Path) -> Path:
    size = f"{cfg.size[0]}x{cfg.size[1]}"
    _say("1/7 synthetic street scenes and one splits.json")
    _crnkit(
        "data",
        "synth",
        "--out",
        out / "data",
        "--n",
        cfg.images,
        "--size",
        size,
        "--seed",
        cfg.seed,
        "--overwrite",
    )
    splits = out / "splits.json"
    _crnkit(
        "data",
        "split",
        "--source",
        "synthetic",
        "--root",
        out / "data",
        "--out",
        splits,
        "--size",
        size,
        "--test",
        cfg.test_images,
        "--val",
        4,
        "--seed",
        cfg.seed,
    )
    return splits


def _train(cfg: DemoConfig, out: Path, splits: Path, vgg: str) -> None:
    _say("2/7 training CRN, pix2pix and the encoder-decoder on that split")
    runs = (
        (
            "crn",
            cfg.crn_steps,
            ("--width", cfg.crn_width, "--k", cfg.crn_k, "--lr", cfg.crn_lr, "--vgg-weights", vgg),
        ),
        ("pix2pix", cfg.pix2pix_steps, ("--width", cfg.baseline_width)),
        ("encdec", cfg.encdec_steps, ("--width", cfg.baseline_width, "--vgg-weights", vgg)),
    )
    for model, steps, options in runs:
        _crnkit(
            "train", model, "--splits", splits, "--out", out / "runs" / model,
            "--steps", steps, "--batch-size", cfg.batch_size, "--seed", cfg.seed,
            "--sample-every", max(steps // 2, 1), "--val-every", 0, *options,
        )  # fmt: skip


def _image_sets(out: Path, splits: Path) -> None:
    _say("3/7 image sets: real photos, each model's outputs, blurred catch images, metrics")
    sets = out / "sets"
    _crnkit("data", "export-real", "--splits", splits, "--split", "test", "--out", sets / "real")
    for model in ("crn", *BASELINES):
        _crnkit(
            "generate",
            "--checkpoint",
            out / "runs" / model / "last.pt",
            "--splits",
            splits,
            "--split",
            "test",
            "--out",
            sets / model,
            "--variant",
            "0",
        )
    _crnkit(
        "imageset", "degrade", "--from", sets / "real", "--how", "blur", "--out", sets / "real-blur"
    )


def _metrics(cfg: DemoConfig, out: Path, splits: Path, vgg: str) -> Path:
    """FID and KID of each model against the real photos, and the diversity of CRN's k outputs."""
    from metrics.networks import inception_hub_path

    sets = out / "sets"
    crn = out / "runs" / "crn" / "last.pt"
    _crnkit("generate", "--checkpoint", crn, "--splits", splits, "--out", sets / "crn",
            "--variant", "all", "--overwrite")  # fmt: skip
    inception = str(inception_hub_path()) if inception_hub_path().is_file() else "random"
    if inception == "random":
        print("note: no FID Inception weights found: FID/KID use --inception-weights random")
    result = out / "metrics" / "metrics.csv"
    variants = [sets / f"crn-v{i}" for i in range(cfg.crn_k)]
    _crnkit(
        "metrics", "--real", sets / "real", "--sets", *(sets / m for m in ("crn", *BASELINES)),
        "--variants", *variants, "--inception-weights", inception, "--vgg-weights", vgg,
        "--cache", out / "metrics" / "cache.sqlite", "--out", result, "--no-progress",
    )  # fmt: skip
    return result


def study_document(cfg: DemoConfig, random_vgg: bool) -> dict:
    """The demo's study.toml as a dict: CRN vs each baseline, and CRN/pix2pix vs real over time."""
    note = " (VGG-19 with random weights: a smoke test, not a result)" if random_vgg else ""
    timed = [*PAPER_EXPOSURES_MS]
    return {
        "study": {
            "id": "crnkit-demo",
            "title": f"crnkit demo on synthetic streets{note}",
            "dataset": "synthetic",
            "instructions": "Two images of the same street layout appear side by side. "
            "Press F (or ←) for the left one and J (or →) for the right one.",
            "question": "Which image is more realistic?",
            "trials_per_participant": cfg.trials_per_participant,
            "seed": cfg.seed,
        },
        "sets": {name: f"../sets/{name}" for name in ("real", "crn", *BASELINES, "real-blur")},
        "comparisons": [
            *({"a": "crn", "b": b, "exposures": ["unlimited"]} for b in BASELINES),
            {"a": "crn", "b": "real", "exposures": timed},
            {"a": "pix2pix", "b": "real", "exposures": timed},
        ],
        "practice": {
            "trials": cfg.practice_trials,
            "a": "real",
            "b": "real-blur",
            "exposure": "unlimited",
            "feedback": True,
        },
        "catch": {
            "trials": cfg.catch_trials,
            "real": "real",
            "bad": "real-blur",
            "exposure": "unlimited",
        },
        "platform": {"kind": "local", "completion_code": "CRNKIT-DEMO"},
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise UserError(f"the study server exited with status {server.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise UserError(f"the study server did not answer at {url} within {timeout:.0f} s")


def serve_command(study_dir: Path, port: int, token: str) -> list[str]:
    """The `crnkit study serve` command line the demo runs its study with."""
    return [
        sys.executable, "-m", "crn.cli", "study", "serve", str(study_dir / "study.toml"),
        "--db", str(study_dir / "study.sqlite"), "--host", "127.0.0.1", "--port", str(port),
        # One argument with "=": a random token may begin with "-", which argparse would
        # take for an option.
        f"--admin-token={token}",
        "--workers", "2",
    ]  # fmt: skip


def _run_study(cfg: DemoConfig, study_dir: Path, port: int, token: str) -> None:
    _say("5/7 the real study server, simulated participants over HTTP, export")
    port = port or _free_port()
    cmd = serve_command(study_dir, port, token)
    server = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url + "/", server)
        curves = [arg for curve in SIMULATED_CURVES for arg in ("--curve", curve)]
        _crnkit(
            "study", "simulate", url, "--participants", cfg.participants, "--seed", cfg.seed,
            "--spec", study_dir / "study.toml", *curves, "--no-progress",
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    _crnkit(
        "study",
        "export",
        "--db",
        study_dir / "study.sqlite",
        "--out",
        study_dir / "responses.csv",
        "--participants",
        study_dir / "participants.csv",
    )


def _summary(out: Path, random_vgg: bool) -> None:
    _stage_times()
    print("\n==> 7/7 done", flush=True)
    rows = [
        ("splits", out / "splits.json"),
        ("checkpoints", out / "runs"),
        ("image sets", out / "sets"),
        ("metrics", out / "metrics" / "metrics.csv"),
        ("study spec", out / "study" / "study.toml"),
        ("responses", out / "study" / "responses.csv"),
        ("report", out / "report" / "index.html"),
    ]
    for label, path in rows:
        print(f"  {label:<12} {path}")
    if random_vgg:
        print("  note: VGG-19 had random weights (no pretrained file found); see docs/training.md")
    print("\nOpen the same study to real people (behind your TLS proxy):")
    print(
        f"  crnkit study serve {out / 'study' / 'study.toml'} --db study-people.sqlite "
        "--public-url https://your.host/"
    )


def main(argv: list[str], prog: str = "crnkit demo") -> int:
    """Run the whole pipeline into `--out` and print where every artefact is."""
    ns = _parser(prog).parse_args(argv)
    _STAGES.clear()
    cfg = PRESETS[ns.preset]
    out = Path(ns.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    vgg, random_vgg = _vgg_choice(ns.vgg_weights)
    if random_vgg:
        print(
            "note: no pretrained VGG-19 weights found: using --vgg-weights random (explicit "
            "fallback; recorded in checkpoints, image sets and the report)"
        )
    splits = _data(cfg, out)
    _train(cfg, out, splits, vgg)
    _image_sets(out, splits)
    metrics_csv = _metrics(cfg, out, splits, vgg)
    _say("4/7 the study: CRN vs each baseline (unlimited), CRN and pix2pix vs real (125–8000 ms)")
    study_dir = out / "study"
    study_dir.mkdir(exist_ok=True)
    (study_dir / "study.toml").write_text(tomli_w.dumps(study_document(cfg, random_vgg)))
    _crnkit("study", "validate", study_dir / "study.toml")
    _run_study(cfg, study_dir, ns.port, secrets.token_urlsafe(16))
    _say("6/7 analysis: rates, intervals, tests, rankings, tables, plots, report")
    _crnkit(
        "analyze",
        study_dir / "responses.csv",
        "--out",
        out / "report",
        "--focal",
        "crn",
        "--seed",
        cfg.seed,
        "--metrics",
        metrics_csv,
    )
    _summary(out, random_vgg)
    return 0
