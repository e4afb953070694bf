"""`crnkit study simulate`: simulated participants against a running study server."""

from __future__ import annotations

import argparse
import json

from crn.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of `crnkit study simulate`."""
    parser.add_argument("url", help="base URL of the running study, e.g. http://127.0.0.1:8000")
    parser.add_argument("--participants", type=int, required=True, help="how many to simulate")
    parser.add_argument("--concurrency", type=int, default=20, help="participants at a time")
    parser.add_argument(
        "--think-ms", type=float, default=0.0, help="time between one participant's answers"
    )
    parser.add_argument(
        "--ramp-s", type=float, default=0.0, help="participants arrive spread over this many s"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated behaviour")
    parser.add_argument(
        "--curve",
        action="append",
        default=[],
        metavar="[COMPARISON:]p_max=P,t50=MS,s=S",
        help="psychometric curve of P(method_a) over exposure (for a real_fake task id: of "
        "P(correct)); without COMPARISON it is the default for every comparison and task "
        "(default p_max=0.75,t50=400,s=0.8); repeatable",
    )
    parser.add_argument(
        "--catch-accuracy", type=float, default=0.95, help="P(correct) on catch/practice trials"
    )
    parser.add_argument(
        "--participant-sd", type=float, default=0.3, help="between-participant variation"
    )
    parser.add_argument(
        "--platform",
        choices=("local", "prolific", "mturk"),
        default="local",
        help="which platform's URL parameters to send at enrolment",
    )
    parser.add_argument(
        "--spec", default=None, help="the served study.toml: lets participants tell methods apart"
    )
    parser.add_argument(
        "--key-file",
        default=None,
        help="the server's key file (default: the key in the secrets folder)",
    )
    parser.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="fraction of answers whose connection the client drops after sending (then retries)",
    )
    parser.add_argument(
        "--retry-for", type=float, default=30.0, help="seconds to keep retrying a failing request"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_config(ns: argparse.Namespace):
    """The SimConfig of the command line."""
    from study.simulate import Curve, SimConfig, parse_curve

    if ns.participants < 1 or ns.concurrency < 1:
        raise UserError("--participants and --concurrency must be at least 1")
    if not (0.0 <= ns.catch_accuracy <= 1.0 and 0.0 <= ns.drop_rate <= 1.0):
        raise UserError("--catch-accuracy and --drop-rate must lie in [0, 1]")
    if min(ns.think_ms, ns.participant_sd, ns.ramp_s) < 0:
        raise UserError("--think-ms, --ramp-s and --participant-sd must not be negative")
    default, curves = Curve(), {}
    for text in ns.curve:
        target, curve = parse_curve(text)
        if target is None:
            default = curve
        else:
            curves[target] = curve
    return SimConfig(
        participants=ns.participants,
        concurrency=ns.concurrency,
        think_ms=ns.think_ms,
        ramp_s=ns.ramp_s,
        seed=ns.seed,
        curves=curves,
        default_curve=default,
        catch_accuracy=ns.catch_accuracy,
        participant_sd=ns.participant_sd,
        platform=ns.platform,
        drop_rate=ns.drop_rate,
        retry_for_s=ns.retry_for,
        progress=not ns.no_progress,
    )


def run(ns: argparse.Namespace) -> int:
    """Simulate; print a JSON summary; exit 1 if any participant gave up or a 5xx came back."""
    from study.simulate import build_oracle, simulate

    if not ns.url.startswith(("http://", "https://")):
        raise UserError(f"{ns.url}: expected an http:// or https:// URL")
    config = build_config(ns)
    oracle = None
    if ns.spec is not None:
        oracle = build_oracle(ns.spec, ns.key_file)
    result = simulate(ns.url, config, oracle)
    summary = result.summary()
    summary["choices"] = "psychometric curve" if oracle else "fair coin (no --spec)"
    print(json.dumps(summary, indent=1))
    gave_up = sum(v for k, v in summary["errors"].items() if k.startswith("gave_up"))
    failed = gave_up or summary["responses_5xx"]
    return 1 if failed else 0
