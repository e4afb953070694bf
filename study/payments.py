"""Payment decisions: match a platform's submission list against participants.csv.

Worker ids in the submission list are hashed with the study's key and compared with the
`worker_hash` column of participants.csv; no raw worker id is ever stored by the study.
Rule: finished with catch accuracy >= threshold -> approve (plus an optional bonus); finished but
failed the catch trials -> reject (approve with `no_reject`); started or refused -> review;
no participant with that worker's hash -> no-data.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from crn.errors import UserError
from study.platforms import hash_worker_id

DECISION_COLUMNS = (
    "worker_id",
    "assignment_id",
    "submission_status",
    "participant_id",
    "decision",
    "bonus",
    "reason",
)
PARTICIPANT_REQUIRED = ("participant_id", "platform", "status", "worker_hash")
_SUBMISSION_COLUMNS = {
    # platform -> (worker id column, assignment column, status column), headers normalised
    "prolific": ("participant_id", "", "status"),
    "mturk": ("workerid", "assignmentid", "assignmentstatus"),
}
_STATUS_ORDER = {"finished": 0, "started": 1, "refused": 2}


@dataclass(frozen=True)
class Submission:
    """One row of a platform's submission list."""

    worker_id: str
    assignment_id: str
    status: str


@dataclass(frozen=True)
class PaymentRules:
    """How submissions are decided."""

    min_catch_accuracy: float = 0.75
    no_reject: bool = False
    bonus_for_complete: str = ""


def _norm(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: not found") from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text ({err})") from None
    reader = csv.DictReader(io.StringIO(text))
    rows = [
        {_norm(k): (v or "").strip() for k, v in row.items() if k is not None} for row in reader
    ]
    if reader.fieldnames is None:
        raise UserError(f"{path}: empty file (expected a CSV with a header row)")
    return [_norm(name) for name in reader.fieldnames], rows


def detect_platform(path: Path, header: list[str]) -> str:
    """`mturk` for a batch results CSV (WorkerId), `prolific` for an export (Participant id)."""
    cols = set(header)
    if "workerid" in cols:
        return "mturk"
    if "participant_id" in cols:
        return "prolific"
    raise UserError(
        f"{path}: cannot tell the platform (expected a 'Participant id' column for Prolific "
        "or 'WorkerId' for MTurk)"
    )


def read_submissions(path: str | Path, platform: str | None = None) -> tuple[str, list[Submission]]:
    """Read a Prolific export or MTurk batch results CSV; return the platform and its rows."""
    path = Path(path)
    header, rows = _read_csv(path)
    found = detect_platform(path, header)
    if platform is not None and platform != found:
        raise UserError(f"{path}: looks like a {found} list, but --platform is {platform}")
    worker_col, assignment_col, status_col = _SUBMISSION_COLUMNS[found]
    subs = [
        Submission(row.get(worker_col, ""), row.get(assignment_col, ""), row.get(status_col, ""))
        for row in rows
    ]
    return found, subs


def read_participants(path: str | Path) -> list[dict[str, str]]:
    """Read participants.csv (written by `crnkit study export --participants`)."""
    path = Path(path)
    header, rows = _read_csv(path)
    missing = [c for c in PARTICIPANT_REQUIRED if c not in header]
    if missing:
        raise UserError(
            f"{path}: missing column(s) {', '.join(missing)} (expected participants.csv)"
        )
    return rows


def _int(row: dict[str, str], key: str) -> int:
    try:
        return int(float(row.get(key) or 0))
    except ValueError:
        return 0


def decide(participant: dict[str, str] | None, rules: PaymentRules) -> tuple[str, str, str]:
    """(decision, bonus, reason) for one submission given its participant row (or None)."""
    if participant is None:
        return "no-data", "", "no participant in participants.csv has this worker's hash"
    status = participant.get("status", "")
    answered, total = _int(participant, "trials_answered"), _int(participant, "trials_total")
    if status != "finished":
        return "review", "", f"status {status}: {answered} of {total} trials answered"
    correct, catches = _int(participant, "catch_correct"), _int(participant, "catch_total")
    if catches and correct / catches < rules.min_catch_accuracy:
        failed = (
            f"catch trials {correct}/{catches} correct "
            f"({correct / catches:.0%} < {rules.min_catch_accuracy:.0%})"
        )
        if not rules.no_reject:
            return "reject", "", failed
        return "approve", rules.bonus_for_complete, f"{failed}, not rejected (--no-reject)"
    catch_note = f", catch {correct}/{catches}" if catches else ""
    return "approve", rules.bonus_for_complete, f"finished{catch_note}"


def _by_worker_hash(platform: str, participants: list[dict[str, str]]) -> dict[str, dict]:
    """Participants of `platform` by worker hash; a finished row wins over an unfinished one."""
    by_hash: dict[str, dict[str, str]] = {}
    for row in participants:
        if row.get("platform") != platform or not row.get("worker_hash"):
            continue
        best = by_hash.get(row["worker_hash"])
        rank = _STATUS_ORDER.get(row.get("status", ""), 3)
        if best is None or rank < _STATUS_ORDER.get(best.get("status", ""), 3):
            by_hash[row["worker_hash"]] = row
    return by_hash


def decide_all(
    platform: str,
    submissions: list[Submission],
    participants: list[dict[str, str]],
    key: bytes,
    rules: PaymentRules,
) -> tuple[list[dict[str, str]], dict]:
    """Decision rows (DECISION_COLUMNS) for every submission, and a summary."""
    by_hash = _by_worker_hash(platform, participants)
    out, matched = [], set()
    for sub in submissions:
        if not sub.worker_id:
            decision, bonus, reason, match = "no-data", "", "no worker id in this row", None
        else:
            worker_hash = hash_worker_id(key, platform, sub.worker_id)
            match = by_hash.get(worker_hash)
            decision, bonus, reason = decide(match, rules)
            matched.add(worker_hash)
        out.append(
            dict(
                zip(
                    DECISION_COLUMNS,
                    (
                        sub.worker_id,
                        sub.assignment_id,
                        sub.status,
                        match["participant_id"] if match else "",
                        decision,
                        bonus,
                        reason,
                    ),
                    strict=True,
                )
            )
        )
    counts = Counter(row["decision"] for row in out)
    bonus_total = sum(float(r["bonus"]) for r in out if r["bonus"])
    unlisted = sum(
        1 for h, r in by_hash.items() if h not in matched and r.get("status") == "finished"
    )
    summary = {
        "platform": platform,
        "submissions": len(out),
        **{d: counts.get(d, 0) for d in ("approve", "reject", "review", "no-data")},
        "bonus_total": round(bonus_total, 2),
        "finished_without_submission": unlisted,
    }
    return out, summary


def write_decisions(path: str | Path, rows: list[dict[str, str]]) -> None:
    """Write the decisions CSV atomically."""
    from crn.fsutil import atomic_write_text

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=DECISION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
