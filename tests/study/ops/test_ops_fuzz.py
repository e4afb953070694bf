"""Fuzzing every JSON endpoint: no 5xx, every rejection a clear 4xx JSON error, nothing changed."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ops_helpers import ADMIN_TOKEN, participate
from sqlalchemy import text

from study.app import runtime

TABLES = ("study", "participant", "trial", "response", "event")
ANSWER_KEYS = (
    "choice",
    "response_ms",
    "exposure_ms_measured",
    "frame_ms",
    "dpr",
    "window_w",
    "window_h",
    "focus_lost",
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# JSON carries what SQLite and floats cannot: integers of hundreds of digits (math.isfinite
# overflows) and lone surrogates ("\ud800", which UTF-8 cannot encode).
huge_integers = st.integers(min_value=10**300, max_value=10**420).map(lambda n: n * (-1) ** (n % 2))
surrogate_text = st.builds(
    lambda a, s, b: a + s + b,
    st.text(max_size=4),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
    st.text(max_size=4),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | huge_integers
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | surrogate_text
    | st.sampled_from(["left", "right", "focus_lost", "unlimited", "<script>", "\x00", "1e999"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
answer_like = st.dictionaries(
    st.sampled_from(ANSWER_KEYS) | st.text(max_size=6), json_values, max_size=9
)
event_like = st.fixed_dictionaries(
    {
        "events": st.lists(
            st.dictionaries(
                st.sampled_from(["type", "trial_id", "detail"]) | st.text(max_size=4),
                json_values,
                max_size=4,
            ),
            max_size=60,
        )
        | json_values
    }
)
enrol_like = st.fixed_dictionaries(
    {"params": st.dictionaries(st.text(max_size=20), json_values, max_size=25) | json_values},
    optional={"window_w": json_values, "window_h": json_values, "extra": json_values},
)


def _encode(body) -> bytes:
    if isinstance(body, bytes):
        return body
    return json.dumps(body, allow_nan=True).encode()


bodies = st.one_of(st.binary(max_size=200), json_values)


def snapshot(app) -> str:
    """A digest of every row of every table."""
    digest = hashlib.sha256()
    with runtime(app).engine.connect() as conn:
        for table in TABLES:
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def check(app, response, before: str, may_change: bool = False) -> None:
    """No 5xx; a 4xx is JSON with one clear line; a rejected request changed nothing."""
    assert response.status_code < 500, response.data[:300]
    if response.status_code >= 400:
        error = response.get_json(silent=True)
        assert isinstance(error, dict) and isinstance(error.get("error"), str), response.data
        assert error["error"].strip() and "\n" not in error["error"]
        assert "Traceback" not in error["error"]
        assert snapshot(app) == before
    elif not may_change:
        assert snapshot(app) == before


@pytest.fixture
def fuzz_app(ops_app):
    """The fixture study with one participant midway (so ids and tokens exist)."""
    person = participate(ops_app.test_client(), stop_after=3)
    return ops_app, person


# Header values can carry anything but line breaks (no HTTP client can send those).
header_text = st.text(st.characters(exclude_characters="\r\n\x00"), max_size=60)
auth_headers = st.one_of(
    st.just("valid"),
    st.none(),
    header_text,
    header_text.map(lambda t: f"Bearer {t}"),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ]
)


def _headers(person, auth, ctype) -> dict:
    headers = {}
    if auth == "valid":
        headers.update(person["headers"])
    elif auth is not None:
        headers["Authorization"] = auth.encode("utf-8", "replace").decode("latin-1", "replace")
    if ctype:
        headers["Content-Type"] = ctype
    return headers


@FUZZ
@given(body=st.one_of(answer_like, bodies), auth=auth_headers, ctype=content_types)
@example(body={"choice": "left", "response_ms": 10**400}, auth="valid", ctype=None)
@example(
    body={"choice": "left", "response_ms": 900, "exposure_ms_measured": -(10**400)},
    auth="valid",
    ctype=None,
)
def test_fuzz_answer_to_the_current_trial(fuzz_app, body, auth, ctype):
    # The body goes to the participant's real, current trial.
    app, person = fuzz_app
    current = app.test_client().get("/api/state", headers=person["headers"]).get_json()
    if current["done"]:
        return
    before = snapshot(app)
    response = app.test_client().post(
        f"/api/trials/{current['next']['id']}/answer",
        data=_encode(body),
        headers=_headers(person, auth, ctype),
    )
    check(app, response, before, may_change=True)


@FUZZ
@given(
    body=st.one_of(answer_like, bodies),
    trial=st.integers(-5, 2**64) | st.text(max_size=12),
    auth=auth_headers,
    ctype=content_types,
)
def test_fuzz_answer(fuzz_app, body, trial, auth, ctype):
    app, person = fuzz_app
    before = snapshot(app)
    url = f"/api/trials/{quote(str(trial), safe='')}/answer"
    response = app.test_client().post(
        url, data=_encode(body), headers=_headers(person, auth, ctype)
    )
    check(app, response, before, may_change=True)


@FUZZ
@given(body=st.one_of(enrol_like, bodies), ctype=content_types)
@example(body={"\n": None}, ctype=None)  # an unknown key echoed into the error message
def test_fuzz_enrol(fuzz_app, body, ctype):
    app, _ = fuzz_app
    before = snapshot(app)
    headers = {"Content-Type": ctype} if ctype else {}
    response = app.test_client().post("/api/enrol", data=_encode(body), headers=headers)
    check(app, response, before, may_change=response.status_code in (200, 201))


@FUZZ
@given(body=st.one_of(event_like, bodies), auth=auth_headers, ctype=content_types)
@example(body={"events": [{"type": "resize", "detail": "ab\ud800cd"}]}, auth="valid", ctype=None)
@example(body={"events": [{"type": "resize", "trial_id": 10**400}]}, auth="valid", ctype=None)
def test_fuzz_events(fuzz_app, body, auth, ctype):
    app, person = fuzz_app
    before = snapshot(app)
    headers = _headers(person, auth, ctype)
    response = app.test_client().post("/api/events", data=_encode(body), headers=headers)
    check(app, response, before, may_change=True)


@FUZZ
@given(auth=auth_headers, method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH"]))
def test_fuzz_state_and_methods(fuzz_app, auth, method):
    app, person = fuzz_app
    before = snapshot(app)
    response = app.test_client().open(
        "/api/state", method=method, headers=_headers(person, auth, None)
    )
    # A valid GET serves the current trial (already served, so nothing changes either way).
    check(app, response, before)


@FUZZ
@given(body=bodies | st.fixed_dictionaries({"action": json_values}), ctype=content_types)
def test_fuzz_admin_status(fuzz_app, body, ctype):
    app, _ = fuzz_app
    before = snapshot(app)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if ctype:
        headers["Content-Type"] = ctype
    response = app.test_client().post("/admin/status", data=_encode(body), headers=headers)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert snapshot(app) == before
    else:
        assert response.get_json()["status"] in ("open", "paused", "closed")


@FUZZ
@given(path=st.text(max_size=40))
def test_fuzz_paths(fuzz_app, path):
    app, _ = fuzz_app
    before = snapshot(app)
    for prefix in ("/api/", "/img/", "/admin/", "/static/"):
        response = app.test_client().get(prefix + quote(path, safe="/%"))
        assert response.status_code < 500, (prefix, path)
        response.close()
    assert snapshot(app) == before


@pytest.fixture
def prolific_app(ops_factory):
    """The fixture study on Prolific, with one participant (PID 'W1') who finished."""
    app = ops_factory(name="prolific", platform={"kind": "prolific", "completion_code": "C1"})
    participate(app.test_client(), {"PROLIFIC_PID": "W1"})
    return app


@FUZZ
@given(pid=st.one_of(st.text(max_size=20), surrogate_text, st.sampled_from(["W1\n", " w1 "])))
@example(pid="W1\n")
@example(pid="W1\x00")
def test_fuzz_prolific_ids(prolific_app, pid):
    before = snapshot(prolific_app)
    client = prolific_app.test_client()
    response = client.post("/api/enrol", json={"params": {"PROLIFIC_PID": pid}})
    check(prolific_app, response, before, may_change=response.status_code in (200, 201))
    if pid.strip().upper() == "W1":
        # The finished worker, however the id is padded or cased, cannot take the study again.
        assert response.status_code == 409
    # A URL carries bytes: lone surrogates arrive as their (invalid) UTF-8 bytes.
    raw = quote(pid.encode("utf-8", "surrogatepass"), safe="")
    page = client.get(f"/?PROLIFIC_PID={raw}")
    assert page.status_code < 500
