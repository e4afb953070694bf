"""Payments: matching submission lists against participants.csv through keyed worker hashes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from crn.errors import UserError
from study.payments import (
    DECISION_COLUMNS,
    PaymentRules,
    decide_all,
    read_participants,
    read_submissions,
    write_decisions,
)
from study.platforms import hash_worker_id

KEY = bytes(range(32))
HEADER = (
    "participant_id,platform,status,trials_answered,trials_total,catch_correct,catch_total,"
    "completion_code,started_at,finished_at,worker_hash"
)


def _participants(tmp_path: Path, platform: str, rows) -> Path:
    lines = [HEADER]
    for pid, worker, status, answered, correct in rows:
        worker_hash = hash_worker_id(KEY, platform, worker) if worker else ""
        lines.append(
            f"{pid},{platform},{status},{answered},48,{correct},4,CODE,2024-01-01T00:00:00Z,,"
            f"{worker_hash}"
        )
    path = tmp_path / "participants.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


PEOPLE = [
    ("p-good", "W_GOOD", "finished", 48, 4),
    ("p-bad", "W_BAD", "finished", 48, 1),
    ("p-left", "W_LEFT", "started", 10, 0),
    ("p-local", "", "finished", 48, 4),
]


def _prolific_csv(tmp_path: Path) -> Path:
    path = tmp_path / "prolific.csv"
    path.write_text(
        "\ufeffSubmission id,Participant id,Status,Started at\n"
        "s1,W_GOOD,AWAITING REVIEW,2024\n"
        "s2,W_BAD,AWAITING REVIEW,2024\n"
        "s3,W_LEFT,AWAITING REVIEW,2024\n"
        "s4,W_STRANGER,AWAITING REVIEW,2024\n"
    )
    return path


def test_prolific_decisions_follow_the_rule(tmp_path):
    participants = read_participants(_participants(tmp_path, "prolific", PEOPLE))
    platform, subs = read_submissions(_prolific_csv(tmp_path))
    assert platform == "prolific" and [s.worker_id for s in subs][:2] == ["W_GOOD", "W_BAD"]
    rows, summary = decide_all(platform, subs, participants, KEY, PaymentRules(0.75))
    table = {r["worker_id"]: (r["participant_id"], r["decision"], r["reason"]) for r in rows}
    assert table["W_GOOD"] == ("p-good", "approve", "finished, catch 4/4")
    assert table["W_BAD"] == ("p-bad", "reject", "catch trials 1/4 correct (25% < 75%)")
    assert table["W_LEFT"] == ("p-left", "review", "status started: 10 of 48 trials answered")
    assert table["W_STRANGER"][:2] == ("", "no-data")
    assert "no participant" in table["W_STRANGER"][2]
    assert summary == {
        "platform": "prolific",
        "submissions": 4,
        "approve": 1,
        "reject": 1,
        "review": 1,
        "no-data": 1,
        "bonus_total": 0,
        "finished_without_submission": 0,
    }


def test_no_reject_and_bonus(tmp_path):
    participants = read_participants(_participants(tmp_path, "prolific", PEOPLE))
    platform, subs = read_submissions(_prolific_csv(tmp_path))
    rules = PaymentRules(0.75, no_reject=True, bonus_for_complete="0.50")
    rows, summary = decide_all(platform, subs, participants, KEY, rules)
    decisions = {r["worker_id"]: (r["decision"], r["bonus"]) for r in rows}
    assert decisions["W_GOOD"] == ("approve", "0.50")
    assert decisions["W_BAD"] == ("approve", "0.50")
    assert decisions["W_LEFT"] == ("review", "")
    assert summary["bonus_total"] == 1.0 and summary["reject"] == 0


def test_mturk_batch_results_and_the_key_matters(tmp_path):
    participants = read_participants(_participants(tmp_path, "mturk", PEOPLE[:2]))
    path = tmp_path / "batch.csv"
    path.write_text(
        '"HITId","AssignmentId","WorkerId","AssignmentStatus"\n'
        '"H1","A1","W_GOOD","Submitted"\n"H1","A2","W_BAD","Submitted"\n'
    )
    platform, subs = read_submissions(path)
    assert platform == "mturk" and subs[1].assignment_id == "A2"
    rows, _ = decide_all(platform, subs, participants, KEY, PaymentRules(0.5))
    assert [(r["assignment_id"], r["decision"]) for r in rows] == [
        ("A1", "approve"),
        ("A2", "reject"),
    ]
    rows, _ = decide_all(platform, subs, participants, b"another key", PaymentRules(0.5))
    assert [r["decision"] for r in rows] == ["no-data", "no-data"]
    with pytest.raises(UserError, match="looks like a mturk list, but --platform is prolific"):
        read_submissions(path, "prolific")


def test_finished_participants_missing_from_the_list_are_counted(tmp_path):
    participants = read_participants(_participants(tmp_path, "prolific", PEOPLE))
    path = tmp_path / "short.csv"
    path.write_text("participant_id,status\nW_BAD,AWAITING REVIEW\n")
    platform, subs = read_submissions(path)
    _, summary = decide_all(platform, subs, participants, KEY, PaymentRules())
    assert summary["finished_without_submission"] == 1


def test_bad_inputs(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("id,name\n1,x\n")
    with pytest.raises(UserError, match="cannot tell the platform"):
        read_submissions(path)
    (tmp_path / "p.csv").write_text("participant_id,platform,status\n")
    with pytest.raises(UserError, match="missing column\\(s\\) worker_hash"):
        read_participants(tmp_path / "p.csv")
    with pytest.raises(UserError, match="not found"):
        read_participants(tmp_path / "none.csv")


def test_decisions_csv_round_trips(tmp_path):
    rows = [dict(zip(DECISION_COLUMNS, ("W", "", "OK", "p", "approve", "", "a, b"), strict=True))]
    write_decisions(tmp_path / "d.csv", rows)
    with open(tmp_path / "d.csv", newline="") as fh:
        assert list(csv.DictReader(fh)) == rows
