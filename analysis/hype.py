"""Real-or-fake tasks: HYPE∞ and deception rates, HYPE_time thresholds, their tables and figure.

HYPE (Zhou et al., NeurIPS 2019) shows one image at a time, half real and half generated, and
asks "real or fake?". Per task (one generated method against the real photos):

- `deception` — the share of the method's images judged real (fakes error);
- `real_error` — the share of real photos judged fake;
- `hype` — HYPE∞ as HYPE defines it: the error rate over fakes and reals together
  (50 % means people cannot tell the method from real photos).

Every rate gets the crossed participant × image interval of the paired analysis
(`crnkit_common.proportions.crossed_proportion`, images being the shown set's image ids), and a test
against 50 %. Tasks with `exposure = "staircase"` (HYPE_time) get thresholds from
`analysis.staircase` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.schema import SINGLE_TASKS, exposure_label
from analysis.staircase import (
    DEFAULT_REVERSALS,
    method_thresholds,
    participant_thresholds,
    tracks_frame,
)
from analysis.tables import PaperTable, format_cell

RATE_KEYS = ["dataset", "comparison", "method_a", "method_b", "exposure"]


@dataclass(frozen=True)
class TaskResults:
    """What the real-or-fake tasks add to a report (empty frames when a study has none)."""

    rates: pd.DataFrame
    table: PaperTable | None
    tracks: pd.DataFrame
    participants: pd.DataFrame
    thresholds: pd.DataFrame
    threshold_table: PaperTable | None

    @property
    def empty(self) -> bool:
        """True when there were no real-or-fake judgments at all."""
        return self.rates.empty and self.thresholds.empty


def single_rows(kept: pd.DataFrame) -> pd.DataFrame:
    """Kept test judgments of real-or-fake tasks, with `shown_method` and `said_real`."""
    rows = kept[kept["task"].isin(SINGLE_TASKS)].copy()
    rows["shown_method"] = rows["left_method"]
    rows["is_real"] = (rows["shown_method"] == rows["method_b"]).astype("int8")
    rows["said_real"] = (rows["chosen_method"] == rows["method_b"]).astype("int8")
    rows["error"] = 1 - rows["correct"]
    # Participants are people within a study; images are one set's image of one layout.
    rows["person_key"] = rows["study_id"] + "\x00" + rows["participant_id"]
    rows["image_key"] = rows["dataset"] + "\x00" + rows["shown_method"] + "\x00" + rows["image_id"]
    return rows


def _crossed(rows: pd.DataFrame, y: str, level: float) -> pd.DataFrame:
    from crnkit_common.proportions import crossed_rates

    return crossed_rates(
        rows, RATE_KEYS, y=y, participant="person_key", image="image_key", level=level
    )


def hype_rates(rows: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per task and exposure: HYPE∞ (error rate), deception and real-photo error with intervals."""
    fixed = rows[rows["task"] == "real_fake"]
    if fixed.empty:
        return pd.DataFrame()
    parts = {
        "hype": _crossed(fixed, "error", level),
        "deception": _crossed(fixed[fixed["is_real"] == 0], "said_real", level),
        "real_error": _crossed(fixed[fixed["is_real"] == 1], "error", level),
    }
    out = parts["hype"][[*RATE_KEYS, "n", "n_participants", "n_images"]].copy()
    for name, frame in parts.items():
        renamed = frame.set_index(RATE_KEYS)[["rate", "lo", "hi", "p_value"]]
        renamed.columns = [name if c == "rate" else f"{name}_{c}" for c in renamed.columns]
        out = out.join(renamed, on=RATE_KEYS)
    return out.rename(columns={"comparison": "task", "method_a": "method", "method_b": "real"})


def hype_table(rates: pd.DataFrame) -> PaperTable | None:
    """Paper-style table: one row per method (and exposure), HYPE∞, fakes and reals error."""
    if rates.empty:
        return None
    labels = rates["method"] + rates["exposure"].map(
        lambda e: "" if e == "unlimited" else f" ({exposure_label(e)})"
    )
    if rates["dataset"].nunique() > 1:
        labels = rates["dataset"] + " / " + labels
    cells = pd.DataFrame(
        {
            "HYPE∞ (error rate)": _cells(rates, "hype"),
            "fakes judged real": _cells(rates, "deception"),
            "reals judged fake": _cells(rates, "real_error"),
            "judgments": rates["n"].astype(str).to_numpy(),
        },
        index=labels.to_numpy(),
    )
    numbers = rates.set_index(labels.to_numpy())[["hype", "hype_lo", "hype_hi", "n"]]
    caption = (
        "Real or fake (HYPE∞): error rates over generated and real images; 50 % means "
        "people could not tell the method from real photos. 95 % intervals for participant "
        "× image variation."
    )
    return PaperTable(cells, numbers, "", "method", caption)


def _cells(rates: pd.DataFrame, name: str) -> list[str]:
    values = zip(rates[name], rates[f"{name}_lo"], rates[f"{name}_hi"], strict=True)
    return [format_cell(*v) for v in values]


def threshold_table(thresholds: pd.DataFrame) -> PaperTable | None:
    """Paper-style table of HYPE_time thresholds per method."""
    if thresholds.empty:
        return None
    labels = thresholds["method"]
    if thresholds["dataset"].nunique() > 1:
        labels = thresholds["dataset"] + " / " + labels
    text = [
        f"{v:.0f} ms [{lo:.0f}, {hi:.0f}]"
        for v, lo, hi in zip(
            thresholds["threshold_ms"], thresholds["lo"], thresholds["hi"], strict=True
        )
    ]
    cells = pd.DataFrame(
        {
            "HYPE_time threshold": text,
            "participants": thresholds["n_participants"].astype(str).to_numpy(),
        },
        index=labels.to_numpy(),
    )
    numbers = thresholds.set_index(labels.to_numpy())[["threshold_ms", "lo", "hi"]]
    caption = (
        "HYPE_time: exposure at which a method's images are told from real ones 79.4 % of the "
        "time (mean over participants); longer is better. 95 % participant-clustered intervals."
    )
    return PaperTable(cells, numbers, "", "method", caption)


def reversal_settings(studies: dict) -> dict[str, int]:
    """Reversals averaged per study, from each study.json's [staircase] (default 6)."""
    out = {}
    for sid, meta in studies.items():
        rule = (meta.spec or {}).get("staircase") or {}
        out[sid] = int(rule.get("threshold_reversals", DEFAULT_REVERSALS))
    return out


def analyse_tasks(kept: pd.DataFrame, studies: dict, level: float = 0.95) -> TaskResults:
    """Everything about the real-or-fake judgments among the kept ones."""
    rows = single_rows(kept)
    rates = hype_rates(rows, level)
    adaptive = rows[rows["task"] == "staircase"]
    tracks = tracks_frame(adaptive) if not adaptive.empty else pd.DataFrame()
    participants = thresholds = pd.DataFrame()
    if not tracks.empty:
        participants = participant_thresholds(tracks, reversal_settings(studies))
        thresholds = method_thresholds(tracks, level)
    return TaskResults(
        rates=rates,
        table=hype_table(rates),
        tracks=tracks,
        participants=participants,
        thresholds=thresholds,
        threshold_table=threshold_table(thresholds),
    )
