"""participants.csv from a real database feeds `crnkit study payments` (hashes match).

No --key-file: payments finds the key where the server created it, by the study id in the
study.json that export wrote beside participants.csv.
"""

import csv

from crn import cli


def test_export_then_payments_matches_the_enrolled_worker(app_factory, tmp_path):
    app = app_factory(platform={"kind": "prolific", "completion_code": "C0DE"})
    reply = app.test_client().post(
        "/api/enrol",
        json={"params": {"PROLIFIC_PID": "worker-7", "STUDY_ID": "s1", "SESSION_ID": "x1"}},
    )
    assert reply.status_code == 201
    participant_id = reply.get_json()["participant_id"]
    out = tmp_path / "export"
    assert (
        cli.main(
            [
                "study",
                "export",
                "--db",
                str(tmp_path / "study.sqlite"),
                "--out",
                str(out / "responses.csv"),
                "--participants",
                str(out / "participants.csv"),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((out / "participants.csv").read_text().splitlines()))
    assert rows[0]["worker_hash"] and "worker-7" not in (out / "participants.csv").read_text()
    submissions = tmp_path / "prolific.csv"
    submissions.write_text("Participant id,Status\nworker-7,AWAITING REVIEW\nstranger,APPROVED\n")
    decisions = tmp_path / "decisions.csv"
    argv = [
        "study",
        "payments",
        "--participants",
        str(out / "participants.csv"),
        "--submissions",
        str(submissions),
        "--platform",
        "prolific",
        "--out",
        str(decisions),
    ]
    assert cli.main(argv) == 0
    by_worker = {r["worker_id"]: r for r in csv.DictReader(decisions.read_text().splitlines())}
    assert by_worker["worker-7"]["participant_id"] == participant_id
    assert by_worker["worker-7"]["decision"] == "review"  # started, not finished
    assert by_worker["stranger"]["decision"] == "no-data"
