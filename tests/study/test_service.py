"""The transactional core without HTTP: concurrent enrolment, tokens, timing rule, payloads."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from study import answers, participants
from study.app import runtime
from study.httperrors import ApiError, InvalidError, UnauthorizedError
from study.payloads import parse_answer, parse_enrol, parse_events


@pytest.mark.parametrize(
    ("target", "measured", "frame", "ok"),
    [
        (None, None, None, 1),
        (125, 125.0, 16.7, 1),
        (125, 141.7, 16.7, 1),
        (125, 141.8, 16.7, 0),
        (125, 108.3, 16.7, 1),
        (125, 108.2, 16.7, 0),
        (1000, 1016.7, None, 1),
        (1000, 1016.8, None, 0),
        (1000, 1033.0, 33.4, 1),
    ],
)
def test_timing_ok_rule(target, measured, frame, ok):
    """timing_ok = 1 iff |measured − target| ≤ frame_ms (16.7 when unknown); unlimited is 1."""
    assert answers.timing_ok(target, measured, frame) == ok


def test_concurrent_enrolments_stay_balanced(app):
    """Enrolments racing in threads each see the others' trials: coverage stays exact."""
    rt = runtime(app)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: participants.enrol(rt, {}, "ua"), range(6)))
    assert len({r.participant_id for r in results}) == 6
    with rt.engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT count(*) FROM trial WHERE kind = 'test' "
                "GROUP BY comparison, exposure, image_id"
            )
        ).scalars()
        assert sorted(set(counts)) == [1]
        assert conn.execute(text("SELECT count(*) FROM trial")).scalar() == 6 * 16


def test_tokens_are_stored_only_as_hashes(app):
    """The database holds the token's sha256, never the token; the hash authenticates."""
    rt = runtime(app)
    result = participants.enrol(rt, {}, None)
    with rt.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM participant")).scalar()
        dump = str(conn.execute(text("SELECT * FROM participant")).all())
    assert stored == participants.hash_token(result.token) and result.token not in dump
    assert answers.state(rt, result.token)["participant_id"] == result.participant_id
    with pytest.raises(UnauthorizedError):
        answers.state(rt, result.token[:-1] + ("A" if result.token[-1] != "A" else "B"))


def test_bearer_token_parsing():
    """Only `Bearer <url-safe token>` headers pass."""
    token = "a" * 43
    assert participants.bearer_token(f"Bearer {token}") == token
    for header in (None, "", token, f"bearer {token}", "Bearer short", f"Bearer {token[:-1]}!"):
        with pytest.raises(UnauthorizedError):
            participants.bearer_token(header)


def test_participant_seed_is_stable_and_bounded():
    """Seeds derive from the study seed and the public id only."""
    seed = participants.participant_seed(7, "p_abc")
    assert seed == participants.participant_seed(7, "p_abc")
    assert seed != participants.participant_seed(8, "p_abc")
    assert 0 <= seed < 2**31


def test_answer_payload_hash_tells_retry_from_change():
    """Identical bodies hash alike (key order aside); any changed field changes the hash."""
    body = {"choice": "left", "response_ms": 512.25, "frame_ms": 16.7, "focus_lost": 0}
    same = dict(reversed(list(body.items())))
    assert parse_answer(body).sha256() == parse_answer(same).sha256()
    assert parse_answer(body).sha256() != parse_answer({**body, "focus_lost": 1}).sha256()
    assert parse_answer({**body, "focus_lost": True}).focus_lost == 1


@pytest.mark.parametrize(
    "body",
    [
        {"choice": "LEFT", "response_ms": 1},
        {"choice": "left", "response_ms": 0},
        {"choice": "left", "response_ms": 3_600_001},
        {"choice": "left", "response_ms": math.inf},
        {"choice": "left", "response_ms": "500"},
        {"choice": "left", "response_ms": 5, "frame_ms": 0},
        {"choice": "left", "response_ms": 5, "frame_ms": 1001},
        {"choice": "left", "response_ms": 5, "dpr": 17},
        {"choice": "left", "response_ms": 5, "window_h": -1},
        {"choice": "left", "response_ms": 5, "window_h": True},
        {"choice": "left", "response_ms": 5, "exposure_ms_measured": -1},
        {"choice": "left", "response_ms": 5, "focus_lost": 2},
        {"choice": "left", "response_ms": 5, "focus_lost": 1.0},
        {"choice": ["left"], "response_ms": 5},
    ],
)
def test_invalid_answer_fields(body):
    """Every out-of-range or mistyped field is InvalidError (422)."""
    with pytest.raises(InvalidError):
        parse_answer(body)


def test_enrol_and_event_payloads():
    """Enrolment params must be short strings; events need known types and bounded details."""
    assert parse_enrol({"params": {"PROLIFIC_PID": "x"}}).params == {"PROLIFIC_PID": "x"}
    for bad in ({"params": {"a": 1}}, {"params": []}, {"params": {"a": "x" * 600}}, {"x": 1}):
        with pytest.raises(ApiError) as err:
            parse_enrol(bad)
        assert err.value.status == 422
    events = parse_events({"events": [{"type": "resize", "detail": "10x10"}]})
    assert events[0].type == "resize" and events[0].trial_id is None
    for bad in (
        {"events": [{"type": "resize", "detail": "x" * 501}]},
        {"events": [{"type": "resize", "trial_id": "1"}]},
        {"events": [{"type": "resize"}] * 51},
        {"events": ["resize"]},
    ):
        with pytest.raises(InvalidError):
            parse_events(bad)


def test_refused_participant_has_no_trials_and_no_access(app_factory):
    """A refused worker gets a row with status refused, no trials, and no usable token."""
    first = app_factory(platform={"kind": "prolific", "completion_code": "A"})
    rt_first = runtime(first)
    participants.enrol(rt_first, {"PROLIFIC_PID": "w1"}, None)
    second = app_factory(
        toml_name="b.toml",
        study={"id": "b-study"},
        platform={"kind": "prolific", "completion_code": "B", "exclude_studies": ["fixture-study"]},
    )
    rt = runtime(second)
    with pytest.raises(ApiError) as err:
        participants.enrol(rt, {"PROLIFIC_PID": "w1"}, None)
    assert err.value.status == 403
    with pytest.raises(ApiError) as err:
        participants.enrol(rt, {"PROLIFIC_PID": "w1"}, None)
    assert err.value.status == 403
    with rt.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.status, count(t.id) FROM participant p "
                "LEFT JOIN trial t ON t.participant_id = p.id "
                "WHERE p.study_id = 'b-study' GROUP BY p.id"
            )
        ).all()
    assert rows == [("refused", 0)]


def test_coverage_counters_match_trials_and_backfill(app):
    """The coverage table equals the trial table's counts, and init_db rebuilds it if missing."""
    from study.db import init_db

    rt = runtime(app)
    for _ in range(3):
        participants.enrol(rt, {}, None)
    grouped = (
        "SELECT comparison, exposure, image_id, count(*) FROM trial WHERE kind = 'test' "
        "GROUP BY comparison, exposure, image_id"
    )
    with rt.engine.connect() as conn:
        expected = {tuple(r[:3]): r[3] for r in conn.execute(text(grouped))}
    with rt.engine.begin() as conn:
        assert participants.read_coverage(conn, rt.study_id) == expected
        conn.execute(text("DROP TABLE coverage"))
    init_db(rt.engine)
    with rt.engine.connect() as conn:
        assert participants.read_coverage(conn, rt.study_id) == expected
