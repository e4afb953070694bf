"""Platforms: entry parameters, completion targets, worker-id hashes, Prolific URL, MTurk XML."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET

import pytest

from study.platforms import (
    EXTERNAL_QUESTION_NS,
    PlatformEntry,
    PlatformError,
    completion_target,
    hash_worker_id,
    mturk_external_question_xml,
    parse_entry,
    prolific_url_template,
)
from study.spec import PlatformSpec

MTURK = {
    "workerId": "A1B2C3D4E5",
    "assignmentId": "3ASSIGN9",
    "hitId": "3HIT77",
    "turkSubmitTo": "https://workersandbox.mturk.com",
}


def _platform(kind, code="CODE1", sandbox=False):
    return PlatformSpec(kind=kind, completion_code=code, mturk_sandbox=sandbox, exclude_studies=())


def test_hash_is_keyed_hmac_sha256_and_platform_specific():
    key = b"k" * 32
    digest = hash_worker_id(key, "prolific", "5f0a")
    assert digest == hmac.new(key, b"prolific\x005f0a", hashlib.sha256).hexdigest()
    # MTurk's canonical case is upper: a real id hashes as it always did.
    mturk = hmac.new(key, b"mturk\x00A1B2", hashlib.sha256).hexdigest()
    assert hash_worker_id(key, "mturk", "a1b2 ") == mturk
    assert len(digest) == 64 and "5f0a" not in digest
    assert digest != hash_worker_id(b"j" * 32, "prolific", "5f0a")
    assert digest != hash_worker_id(key, "mturk", "5f0a")
    with pytest.raises(PlatformError, match="empty"):
        hash_worker_id(b"", "mturk", "x")


@pytest.mark.parametrize("variant", ["5f0a", " 5f0a", "5f0a\n", "\t5F0A \r\n", "5F0a"])
def test_one_person_is_one_worker_however_the_id_was_pasted(variant):
    key = b"k" * 32
    assert hash_worker_id(key, "prolific", variant) == hash_worker_id(key, "prolific", "5f0a")
    assert parse_entry("prolific", {"PROLIFIC_PID": variant}).worker_id == variant.strip()


@pytest.mark.parametrize(
    "bad", ["W\n\nX", "W\x00", "W\x1b[31m", "a b", "W\u2028X", "Wé", "x" * 129, "W\ud800"]
)
def test_worker_ids_must_match_in_full(bad):
    with pytest.raises(PlatformError, match="PROLIFIC_PID is not a valid id"):
        parse_entry("prolific", {"PROLIFIC_PID": bad})
    args = {**MTURK, "workerId": bad}
    with pytest.raises(PlatformError, match="workerId is not a valid id"):
        parse_entry("mturk", args)


def test_local_entry_has_no_worker_and_shows_the_code():
    entry = parse_entry("local", {"PROLIFIC_PID": "ignored"})
    assert entry == PlatformEntry("local", None)
    done = completion_target(_platform("local", "THANKS"), entry)
    assert (done.kind, done.code, done.url, done.fields) == ("code", "THANKS", "", {})


def test_prolific_entry_and_redirect():
    args = {"PROLIFIC_PID": "60f1c2aa", "STUDY_ID": "st1", "SESSION_ID": "se9"}
    entry = parse_entry("prolific", args)
    assert (entry.worker_id, entry.platform_study_id, entry.session_id) == (
        "60f1c2aa",
        "st1",
        "se9",
    )
    assert entry.preview is False
    done = completion_target(_platform("prolific", "C0DE-9"), entry)
    assert done.kind == "redirect"
    assert done.url == "https://app.prolific.com/submissions/complete?cc=C0DE-9"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "missing URL parameter PROLIFIC_PID"),
        ({"PROLIFIC_PID": "a b"}, "URL parameter PROLIFIC_PID is not a valid id"),
        (
            {"PROLIFIC_PID": "ok", "STUDY_ID": "<script>"},
            "URL parameter STUDY_ID is not a valid id",
        ),
    ],
)
def test_prolific_bad_parameters(args, message):
    with pytest.raises(PlatformError, match=message):
        parse_entry("prolific", args)


def test_mturk_preview_has_no_worker_and_cannot_complete():
    entry = parse_entry("mturk", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "H1"})
    assert entry.preview is True and entry.worker_id is None and entry.hit_id == "H1"
    with pytest.raises(PlatformError, match="preview"):
        completion_target(_platform("mturk"), entry)


def test_mturk_entry_and_form_post():
    entry = parse_entry("mturk", MTURK, sandbox=True)
    assert (entry.worker_id, entry.assignment_id, entry.hit_id) == (
        "A1B2C3D4E5",
        "3ASSIGN9",
        "3HIT77",
    )
    assert entry.submit_to == "https://workersandbox.mturk.com"
    done = completion_target(_platform("mturk", "DONE7", sandbox=True), entry)
    assert done.kind == "post"
    assert done.url == "https://workersandbox.mturk.com/mturk/externalSubmit"
    assert done.fields == {"assignmentId": "3ASSIGN9", "completion": "DONE7"}
    live = parse_entry("mturk", {**MTURK, "turkSubmitTo": "https://www.mturk.com/"})
    assert completion_target(_platform("mturk", ""), live).url == (
        "https://www.mturk.com/mturk/externalSubmit"
    )


@pytest.mark.parametrize(
    "submit_to",
    [
        "https://evil.example.com",
        "http://www.mturk.com",
        "https://www.mturk.com.evil.example",
        "https://www.mturk.com/elsewhere",
        "https://user@www.mturk.com",
    ],
)
def test_mturk_never_posts_to_an_arbitrary_url(submit_to):
    with pytest.raises(PlatformError, match=r"turkSubmitTo must be https://www\.mturk\.com or"):
        parse_entry("mturk", {**MTURK, "turkSubmitTo": submit_to})
    forged = PlatformEntry("mturk", "W", assignment_id="A", hit_id="H", submit_to=submit_to)
    with pytest.raises(PlatformError):
        completion_target(_platform("mturk"), forged)


def test_mturk_missing_parameters_and_site_mismatch():
    for name in ("workerId", "hitId", "turkSubmitTo"):
        args = {k: v for k, v in MTURK.items() if k != name}
        with pytest.raises(PlatformError, match=f"missing URL parameter {name}"):
            parse_entry("mturk", args)
    with pytest.raises(PlatformError, match="expects MTurk the live site"):
        parse_entry("mturk", MTURK, sandbox=False)
    with pytest.raises(PlatformError, match="not one of local, prolific, mturk"):
        parse_entry("cloud", {})


def test_prolific_url_template():
    assert prolific_url_template("https://study.example.org/s/abc") == (
        "https://study.example.org/s/abc?PROLIFIC_PID={{%PROLIFIC_PID%}}"
        "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )
    assert prolific_url_template("http://h/s?x=1").startswith("http://h/s?x=1&PROLIFIC_PID=")
    with pytest.raises(PlatformError, match="not valid"):
        prolific_url_template("ftp://h/s")


def test_mturk_external_question_is_valid_xml_with_escaped_url():
    xml = mturk_external_question_xml("https://h.example.org/s?a=1&b=2", frame_height=650)
    assert "a=1&amp;b=2" in xml
    root = ET.fromstring(xml)
    assert root.tag == f"{{{EXTERNAL_QUESTION_NS}}}ExternalQuestion"
    assert (
        root.find(f"{{{EXTERNAL_QUESTION_NS}}}ExternalURL").text
        == "https://h.example.org/s?a=1&b=2"
    )
    assert root.find(f"{{{EXTERNAL_QUESTION_NS}}}FrameHeight").text == "650"
    with pytest.raises(PlatformError, match="https"):
        mturk_external_question_xml("http://h.example.org/s")
    with pytest.raises(PlatformError, match="frame height"):
        mturk_external_question_xml("https://h.example.org/s", frame_height=-1)
