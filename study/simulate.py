"""Simulated participants driving a running study over its real HTTP API (httpx + asyncio).

Each participant enrols, then answers trial after trial until the study says it is done. Whether
it picks `method_a` follows a psychometric curve over exposure time,
    p(t) = 0.5 + (p_max − 0.5) / (1 + exp(−(log t − log t50) / s)),   p(unlimited) = p_max,
with per-comparison parameters and participant-level variation; catch and practice trials are
answered correctly with high probability. The client sees only opaque image URLs, as a browser
does, so it "looks" at an image by matching its URL key against the study's key file (the
simulated eye); without one every choice is a fair coin.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from crn.errors import UserError

UNLIMITED = "unlimited"
FRAME_MS = 1000.0 / 60.0
TRANSIENT_STATUSES = (502, 503, 504)


@dataclass(frozen=True)
class Curve:
    """A logistic psychometric curve in log exposure for the rate of choosing method_a."""

    p_max: float = 0.75
    t50_ms: float = 400.0
    slope: float = 0.8

    def p(self, exposure_ms: float | None, t50_scale: float = 1.0, gain: float = 1.0) -> float:
        """P(choose method_a) at `exposure_ms` (None = unlimited) for one participant."""
        top = 0.5 + (self.p_max - 0.5) * gain
        if exposure_ms is None:
            return min(max(top, 0.0), 1.0)
        z = (math.log(exposure_ms) - math.log(self.t50_ms * t50_scale)) / self.slope
        return min(max(0.5 + (top - 0.5) / (1.0 + math.exp(-z)), 0.0), 1.0)


def parse_curve(text: str) -> tuple[str | None, Curve]:
    """Parse `[COMPARISON:]p_max=0.8,t50=400,s=0.8` into (comparison id or None, Curve)."""
    target, _, params = text.rpartition(":")
    values: dict[str, float] = {}
    names = {"p_max": "p_max", "t50": "t50_ms", "s": "slope"}
    for item in filter(None, params.split(",")):
        key, _, value = item.partition("=")
        if key.strip() not in names:
            raise UserError(f"--curve {text}: unknown parameter '{key}' (expected p_max, t50, s)")
        try:
            values[names[key.strip()]] = float(value)
        except ValueError:
            raise UserError(f"--curve {text}: '{value}' is not a number") from None
    curve = Curve(**values)
    if not 0.0 <= curve.p_max <= 1.0 or curve.t50_ms <= 0 or curve.slope <= 0:
        raise UserError(f"--curve {text}: expected 0 ≤ p_max ≤ 1, t50 > 0 and s > 0")
    return (target or None), curve


@dataclass(frozen=True)
class SimConfig:
    """How many simulated participants, how fast, and how they behave."""

    participants: int
    concurrency: int = 20
    think_ms: float = 0.0
    ramp_s: float = 0.0
    seed: int = 0
    curves: Mapping[str, Curve] = field(default_factory=dict)
    default_curve: Curve = Curve()
    catch_accuracy: float = 0.95
    participant_sd: float = 0.3
    platform: str = "local"
    drop_rate: float = 0.0
    retry_for_s: float = 30.0
    timeout_s: float = 30.0
    progress: bool = True


@dataclass(frozen=True)
class Oracle:
    """What a participant sees in an image URL: its set, and which side is correct for a pair."""

    set_of_key: Mapping[str, str]
    comparisons: Mapping[frozenset, tuple[str, str]]  # {set, set} -> (comparison id, method_a)
    correct: Mapping[frozenset, str]  # catch/practice pair -> the set that is the right answer
    real_sets: frozenset = frozenset()  # sets whose single images are real photos
    task_of_set: Mapping[str, str] = field(default_factory=dict)  # set shown -> real_fake task
    sure_sets: frozenset = frozenset()  # catch/practice sets: answered with catch_accuracy


def build_oracle(spec_path: str | Path, key_file: str | Path | None = None) -> Oracle:
    """The simulated eye: maps URL keys to sets using the study's spec and key file.

    Without `key_file`, the key in the secrets folder (where `serve` keeps it).
    """
    from study.imageindex import image_key
    from study.imagesets import load_study_sets
    from study.secretstore import find_key_file
    from study.spec import load_spec

    spec = load_spec(spec_path)
    if key_file is None:
        key_file = find_key_file((Path(spec_path).resolve().parent,))
    if not Path(key_file).is_file():
        raise UserError(f"--key-file {key_file}: not found (the key file serve printed)")
    secret = Path(key_file).read_bytes()
    sets = load_study_sets(spec, verify=False)
    keys = {
        image_key(secret, spec.id, name, image_id): name
        for name, imageset in sets.sets.items()
        for image_id in imageset.ids
    }
    comparisons = {frozenset(c.pair): (c.id, c.a) for c in spec.comparisons}
    correct = {}
    real = {t.real for t in spec.real_fake}
    sure = set()
    if spec.practice:
        correct[frozenset((spec.practice.a, spec.practice.b))] = spec.practice.a
        real.add(spec.practice.a)
        sure.add(spec.practice.b)
    if spec.catch:
        correct[frozenset((spec.catch.real, spec.catch.bad))] = spec.catch.real
        real.add(spec.catch.real)
        sure.add(spec.catch.bad)
    task_of_set = {t.method: t.id for t in spec.real_fake}
    for t in spec.real_fake:  # a real set used by exactly one task takes that task's curve
        if sum(u.real == t.real for u in spec.real_fake) == 1:
            task_of_set[t.real] = t.id
    return Oracle(keys, comparisons, correct, frozenset(real), task_of_set, frozenset(sure))


@dataclass
class SimResult:
    """What happened: acknowledged answers, latencies per endpoint, status codes, errors."""

    participants: int = 0
    finished: int = 0
    acked: list[tuple[str, int, str]] = field(default_factory=list)  # participant, trial, choice
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    retries: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Counts, throughput and p50/p95/p99 latency (ms) per endpoint, JSON-able."""
        import numpy as np

        lat = {
            name: {
                "n": len(values),
                **{
                    f"p{q}_ms": round(float(np.percentile(values, q)) * 1000, 2)
                    for q in (50, 95, 99)
                },
            }
            for name, values in sorted(self.latencies.items())
            if values
        }
        codes = {str(k): v for k, v in sorted(self.statuses.items())}
        return {
            "participants": self.participants,
            "finished": self.finished,
            "judgments_acknowledged": len(self.acked),
            "judgments_per_s": round(len(self.acked) / self.wall_s, 1) if self.wall_s else 0.0,
            "wall_s": round(self.wall_s, 2),
            "client_cpu_s": round(self.cpu_s, 2),
            "status_codes": codes,
            "responses_4xx": sum(v for k, v in self.statuses.items() if 400 <= k < 500),
            "responses_5xx": sum(v for k, v in self.statuses.items() if k >= 500),
            "errors": dict(self.errors),
            "retries": self.retries,
            "latency": lat,
        }


class GaveUpError(Exception):
    """A participant stops: the server kept failing or answered something unexpected."""


def platform_params(platform: str, rng: random.Random) -> dict[str, str]:
    """URL parameters a platform would add to the study link, with fresh random ids."""

    def ident(n: int) -> str:
        return "".join(rng.choice("0123456789abcdef") for _ in range(n))

    if platform == "prolific":
        return {"PROLIFIC_PID": ident(24), "STUDY_ID": ident(24), "SESSION_ID": ident(24)}
    if platform == "mturk":
        return {
            "workerId": "A" + ident(13).upper(),
            "assignmentId": ident(30).upper(),
            "hitId": ident(30).upper(),
            "turkSubmitTo": "https://workersandbox.mturk.com",
        }
    return {}


@dataclass
class Person:
    """One simulated participant: its random stream and how it deviates from the mean curve."""

    index: int
    rng: random.Random
    t50_scale: float
    gain: float
    window: tuple[int, int]
    dpr: float


def make_person(config: SimConfig, index: int) -> Person:
    """Participant `index` of a run, reproducible from the run's seed."""
    rng = random.Random(f"{config.seed}:{index}")
    return Person(
        index=index,
        rng=rng,
        t50_scale=math.exp(rng.gauss(0.0, config.participant_sd)),
        gain=max(0.0, rng.gauss(1.0, config.participant_sd)),
        window=rng.choice(((1280, 720), (1366, 768), (1440, 900), (1920, 1080))),
        dpr=rng.choice((1.0, 1.0, 1.25, 2.0)),
    )


def _url_key(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def decide_single(person: Person, trial: Mapping[str, Any], oracle: Oracle | None, config):
    """'real' or 'fake' for one image: correct with the task curve's probability."""
    rng = person.rng
    shown = oracle.set_of_key.get(_url_key(trial["image"])) if oracle else None
    if shown is None:
        return rng.choice(("real", "fake"))
    truth = "real" if shown in oracle.real_sets else "fake"
    if trial.get("practice") or (shown in oracle.sure_sets and shown not in oracle.task_of_set):
        p = config.catch_accuracy
    else:
        task = oracle.task_of_set.get(shown)
        curve = config.curves.get(task, config.default_curve)
        p = curve.p(trial.get("exposure_ms"), person.t50_scale, person.gain)
    other = "fake" if truth == "real" else "real"
    return truth if rng.random() < p else other


def decide(person: Person, trial: Mapping[str, Any], oracle: Oracle | None, config: SimConfig):
    """'left' or 'right' for a pair (the comparison's curve), 'real'/'fake' for one image."""
    rng = person.rng
    if trial.get("mode") == "single":
        return decide_single(person, trial, oracle, config)
    if oracle is None:
        return rng.choice(("left", "right"))
    left = oracle.set_of_key.get(_url_key(trial["left"]))
    right = oracle.set_of_key.get(_url_key(trial["right"]))
    pair = frozenset((left, right))
    if None in pair or len(pair) != 2:
        return rng.choice(("left", "right"))
    if pair in oracle.correct and (trial.get("practice") or pair not in oracle.comparisons):
        target, p = oracle.correct[pair], config.catch_accuracy
    elif pair in oracle.comparisons:
        comparison, target = oracle.comparisons[pair]
        curve = config.curves.get(comparison, config.default_curve)
        p = curve.p(trial.get("exposure_ms"), person.t50_scale, person.gain)
    else:
        return rng.choice(("left", "right"))
    target_side = "left" if left == target else "right"
    other_side = "right" if target_side == "left" else "left"
    return target_side if rng.random() < p else other_side


def answer_body(person: Person, trial: Mapping[str, Any], choice: str) -> dict[str, Any]:
    """A plausible answer: response time, measured exposure and frame interval, window, focus."""
    rng = person.rng
    exposure = trial.get("exposure_ms")
    frame = FRAME_MS * (1.0 + rng.gauss(0.0, 0.002))
    reaction = rng.lognormvariate(math.log(650.0 if exposure else 1800.0), 0.35)
    body: dict[str, Any] = {
        "choice": choice,
        "response_ms": round((exposure or 0) + reaction, 1),
        "frame_ms": round(frame, 3),
        "dpr": person.dpr,
        "window_w": person.window[0],
        "window_h": person.window[1],
        "focus_lost": rng.random() < 0.01,
    }
    if exposure is not None:
        frames = max(1, round(exposure / frame))
        # A busy browser now and then misses its frame; such trials must come back timing_ok = 0.
        late = rng.choice((-2, 2)) if rng.random() < 0.02 else 0
        body["exposure_ms_measured"] = round(max((frames + late) * frame, 0.0), 2)
    return body


class Session:
    """One participant's HTTP conversation: retries transient failures, records every request."""

    def __init__(self, client: httpx.AsyncClient, config: SimConfig, result: SimResult):
        self.client, self.config, self.result = client, config, result
        self.token: str | None = None

    async def call(
        self, method: str, url: str, name: str, body: Any = None, drop: bool = False
    ) -> httpx.Response:
        """Send a request, retrying connection failures and 502/503/504 until retry_for_s."""
        deadline = time.monotonic() + self.config.retry_for_s
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for attempt in range(1_000_000):
            started = time.perf_counter()
            response = None
            try:
                timeout = httpx.Timeout(self.config.timeout_s, read=1e-4) if drop else None
                extra = {"timeout": timeout} if timeout else {}
                response = await self.client.request(
                    method, url, json=body, headers=headers, **extra
                )
            except httpx.TransportError as err:
                key = "dropped_by_client" if drop else type(err).__name__
                self.result.errors[key] += 1
            else:
                self.result.latencies[name].append(time.perf_counter() - started)
                self.result.statuses[response.status_code] += 1
                if response.status_code not in TRANSIENT_STATUSES:
                    return response
            drop = False
            if time.monotonic() > deadline:
                raise GaveUpError(f"{name}: no answer within {self.config.retry_for_s} s")
            self.result.retries += 1
            await asyncio.sleep(_retry_delay(response, attempt))
        raise GaveUpError(name)


def _retry_delay(response: httpx.Response | None, attempt: int) -> float:
    if response is not None and response.headers.get("Retry-After", "").isdigit():
        return min(float(response.headers["Retry-After"]), 5.0)
    return min(0.05 * 2**attempt, 1.0)


async def run_participant(session: Session, person: Person, oracle: Oracle | None) -> bool:
    """Enrol and answer until done; True if the participant finished."""
    config, result = session.config, session.result
    think = config.think_ms / 1000.0
    arrival = config.ramp_s or think
    if arrival:
        # Participants arrive spread over the ramp (or one think interval), not all at once.
        await asyncio.sleep(person.rng.uniform(0.0, arrival))
    params = platform_params(config.platform, person.rng)
    body = {"params": params, "window_w": person.window[0], "window_h": person.window[1]}
    response = await session.call("POST", "/api/enrol", "enrol", body)
    if response.status_code not in (200, 201):
        raise GaveUpError(f"enrol answered {response.status_code}")
    enrolled = response.json()
    session.token, state = enrolled["token"], enrolled["state"]
    pid = enrolled["participant_id"]
    result.participants += 1
    next_at = time.monotonic() + think
    while not state["done"]:
        trial = state["next"]
        if trial is None:
            raise GaveUpError("the server sent no next trial for an unfinished participant")
        if think:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + think, time.monotonic())
        answer = answer_body(person, trial, decide(person, trial, oracle, config))
        drop = person.rng.random() < config.drop_rate
        url = f"/api/trials/{trial['id']}/answer"
        response = await session.call("POST", url, "answer", answer, drop=drop)
        if response.status_code != 200:
            raise GaveUpError(f"answer answered {response.status_code}: {response.text[:200]}")
        result.acked.append((pid, int(trial["id"]), answer["choice"]))
        if answer["focus_lost"]:
            event = {"type": "focus_lost", "trial_id": trial["id"], "detail": None}
            await session.call("POST", "/api/events", "events", {"events": [event]})
        state = response.json()
    result.finished += 1
    return True


async def simulate_async(
    base_url: str,
    config: SimConfig,
    oracle: Oracle | None = None,
    result: SimResult | None = None,
) -> SimResult:
    """Run `config.participants` simulated participants against the server at `base_url`.

    Pass `result` to watch progress from another thread (e.g. to crash the server midway).
    """
    import ssl

    from tqdm import tqdm

    result = result if result is not None else SimResult()
    # One small connection pool per participant, as each browser has its own; one shared TLS
    # context, since building one per client is costly.
    client_options = {
        "base_url": base_url.rstrip("/"),
        "limits": httpx.Limits(max_connections=2, max_keepalive_connections=2),
        "timeout": config.timeout_s,
        "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) crnkit-simulate/1"},
        "verify": ssl.create_default_context(),
    }
    sem = asyncio.Semaphore(config.concurrency)
    wall, cpu = time.perf_counter(), time.process_time()
    with tqdm(total=config.participants, unit="participant", disable=not config.progress) as bar:

        async def one(index: int) -> None:
            async with sem, httpx.AsyncClient(**client_options) as client:
                try:
                    session = Session(client, config, result)
                    await run_participant(session, make_person(config, index), oracle)
                except GaveUpError:
                    result.errors["gave_up"] += 1
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
                    result.errors[f"gave_up_{type(err).__name__}"] += 1
            bar.update(1)
            bar.set_postfix(judgments=len(result.acked), refresh=False)

        await asyncio.gather(*(one(i) for i in range(config.participants)))
    result.wall_s = time.perf_counter() - wall
    result.cpu_s = time.process_time() - cpu
    return result


def simulate(
    base_url: str,
    config: SimConfig,
    oracle: Oracle | None = None,
    result: SimResult | None = None,
) -> SimResult:
    """Synchronous wrapper of `simulate_async`."""
    return asyncio.run(simulate_async(base_url, config, oracle, result))
