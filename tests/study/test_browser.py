"""The participant page in headless Chromium: a whole study, timing of timed trials, reloads, masks.

Run alone: `flock /tmp/crnkit-cpu.lock pytest -m browser tests/study/test_browser.py`.
Set CRNKIT_DOCS_SCREENSHOT=1 to also write docs/img/trial.png (the README's screenshot).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
import tomli_w
from PIL import Image
from sqlalchemy import text
from werkzeug.serving import make_server

from crn.data.sources.synthetic import render_scene
from crn.imageset import write_imageset
from study.app import create_app, runtime
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

ALL_EXPOSURES = [125, 250, 500, 1000, 2000, 4000, 8000, "unlimited"]
ONE_FRAME_MS = 17.0
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "trial.png"
SIZE = (96, 192)


def make_scene_sets(root: Path, n_ids: int = 6) -> dict[str, Path]:
    """Sets real, crn (softened), pix2pix (blocky) and catch set blurred (flat), SIZE images."""
    # The toolkit's own procedural street scenes, so that the README screenshot looks real.
    real = {f"img{k:02d}": render_scene(100 + k, SIZE)[1] for k in range(n_ids)}

    def soften(a: np.ndarray) -> np.ndarray:
        small = Image.fromarray(a).resize((SIZE[1] // 3, SIZE[0] // 3), Image.BILINEAR)
        return np.asarray(small.resize((SIZE[1], SIZE[0]), Image.BICUBIC))

    def blocky(a: np.ndarray) -> np.ndarray:
        small = Image.fromarray(a).resize((SIZE[1] // 8, SIZE[0] // 8), Image.BILINEAR)
        return np.asarray(small.resize((SIZE[1], SIZE[0]), Image.NEAREST))

    variants = {
        "real": ("real", real),
        "crn": ("generated", {i: soften(a) for i, a in real.items()}),
        "pix2pix": ("generated", {i: blocky(a) for i, a in real.items()}),
        "blurred": ("catch", {i: np.full_like(a, int(a.mean())) for i, a in real.items()}),
    }
    out = {}
    for name, (kind, images) in variants.items():
        out[name] = write_imageset(
            root / name,
            name=name,
            kind=kind,
            source="test",
            dataset="synthetic",
            split_sha256="0" * 64,
            split="test",
            size=SIZE,
            images=sorted(images.items()),
        ).root
    return out


def study_doc(sets: dict, base: Path, comparisons: list, trials: int, **extra) -> dict:
    """A study document over the scene sets; practice/catch only when given in `extra`."""
    doc = {
        "study": {
            "id": "browser-study",
            "title": "Which image looks more real?",
            "dataset": "synthetic",
            "trials_per_participant": trials,
            "seed": 3,
        },
        "sets": {name: str(Path(path).relative_to(base)) for name, path in sets.items()},
        "comparisons": comparisons,
        "platform": {"kind": "local", "completion_code": "BROWSER1"},
        "display": {"width": 384, "height": 192, "min_window_width": 400, "min_window_height": 300},
    }
    doc.update(extra)
    return doc


@contextmanager
def serve(tmp_path: Path, doc: dict) -> Iterator[tuple[str, object]]:
    """The real app over a temp DB, served by werkzeug in a thread; yields (base URL, app)."""
    spec = tmp_path / "study.toml"
    spec.write_text(tomli_w.dumps(doc), encoding="utf-8")
    app = create_app({"spec_path": spec, "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        runtime(app).engine.dispose()


def export_rows(app) -> list[dict]:
    """Every row of responses_export, by trial_index."""
    with runtime(app).engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM responses_export ORDER BY trial_index"))
        return [dict(r) for r in rows.mappings()]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium; a missing binary fails the test (it is required, not optional)."""
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: run `make browser-deps`"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (own storage) with a window larger than the study's minimum."""
    # The screen is larger than the window, as on a desktop: a small window can be enlarged.
    context = browser.new_context(
        viewport={"width": 1000, "height": 560}, screen={"width": 1920, "height": 1080}
    )
    yield context.new_page()
    context.close()


_NEXT_STEP = """(last) => {
  const phase = document.body.dataset.phase;
  if (phase === 'response') {
    return document.getElementById('stage').dataset.index !== last ? 'response' : false;
  }
  return ['feedback', 'message', 'questions', 'done', 'error'].includes(phase) ? phase : false;
}"""


def next_step(page, last_index: str) -> str:
    """Wait until the page needs input (a response, feedback, a message) or is done."""
    handle = page.wait_for_function(_NEXT_STEP, arg=last_index, timeout=30_000, polling=20)
    return handle.json_value()


def take_study(page, answer, on_response=None, seen=None) -> dict[int, str]:
    """Answer every trial with answer(index) -> (side, 'key'|'click'); returns index -> side.

    Feedback texts and message titles met on the way are appended to `seen`.
    """
    pressed: dict[int, str] = {}
    seen = [] if seen is None else seen
    last = ""
    while True:
        step = next_step(page, last)
        if step == "error":
            raise AssertionError(page.inner_text("#error-text"))
        if step == "done":
            return pressed
        if step == "questions":
            seen.append("questions")
            page.click("#questions-skip")
        elif step == "feedback":
            seen.append(page.inner_text("#feedback-text"))
            page.click("#feedback-continue")
        elif step == "message":
            seen.append(page.inner_text("#message-title"))
            page.click("#message-continue")
        else:
            last = page.get_attribute("#stage", "data-index")
            index = int(last)
            if on_response is not None:
                on_response(index)
            side, how = answer(index)
            if how == "key":
                page.keyboard.press("f" if side == "left" else "ArrowRight")
            else:
                page.click(f"#choose-{side}")
            pressed[index] = side


def test_full_study_timing_and_rows(tmp_path, page):
    """Practice, catch and every exposure: rows, choices and timing match what the browser did."""
    sets = make_scene_sets(tmp_path / "sets")
    comparisons = [
        {"id": "crn_vs_pix2pix", "a": "crn", "b": "pix2pix", "exposures": ALL_EXPOSURES},
        {"id": "crn_vs_real", "a": "crn", "b": "real", "exposures": [125, 250, 500, 1000]},
        {"id": "pix2pix_vs_real", "a": "pix2pix", "b": "real", "exposures": [125, 250, 500]},
    ]
    doc = study_doc(
        sets,
        tmp_path,
        comparisons,
        trials=15,
        practice={"trials": 2, "a": "real", "b": "blurred", "exposure": 250},
        catch={"trials": 4, "real": "real", "bad": "blurred", "exposure": 125},
    )
    doc["display"]["break_every"] = 8
    shots: list[Path] = []

    def screenshot(index: int) -> None:
        phase = page.get_attribute("body", "data-phase")
        if not shots and phase == "response" and page.is_visible("#slot-left img.shown"):
            shots.append(tmp_path / "trial.png")
            page.screenshot(path=str(shots[0]))

    with serve(tmp_path, doc) as (url, app):
        page.goto(url)
        page.click("#start")
        seen: list[str] = []
        pressed = take_study(
            page,
            lambda i: ("left" if i % 3 else "right", "click" if i % 4 == 1 else "key"),
            on_response=screenshot,
            seen=seen,
        )
        assert page.is_visible("#completion-code")
        assert page.inner_text("#completion-code") == "BROWSER1"
        rows = export_rows(app)
    assert len(rows) == 21 == len(pressed)
    assert [r["trial_index"] for r in rows] == list(range(21))
    for row, feedback in zip(rows[:2], seen[:2], strict=True):
        correct = row["chosen_method"] == row["method_a"]
        assert feedback == "Correct!" if correct else feedback.startswith("Incorrect")
    assert seen[2:] == ["Practice over", "Short break", "Short break"]
    assert [r["kind"] for r in rows[:2]] == ["practice", "practice"]
    assert sorted(r["kind"] for r in rows[2:]) == ["catch"] * 4 + ["test"] * 15
    tests = [r for r in rows if r["kind"] == "test"]
    assert sorted((r["comparison"], r["exposure"]) for r in tests) == sorted(
        (c["id"], str(e)) for c in comparisons for e in c["exposures"]
    )
    for row in rows:
        side = pressed[row["trial_index"]]
        assert row["chosen_method"] == row[f"{side}_method"]
        assert row["frame_ms"] > 0 and row["dpr"] > 0 and row["window_w"] == 1000
        assert row["response_ms"] > 0 and row["focus_lost"] == 0
    timed = [r for r in rows if r["exposure"] != "unlimited"]
    assert len(timed) == 20
    for row in timed:
        assert row["exposure_ms_target"] == int(row["exposure"])
        miss = abs(row["exposure_ms_measured"] - row["exposure_ms_target"])
        rule = miss <= row["frame_ms"] + 1e-6
        assert row["timing_ok"] == int(rule)
    within = [
        abs(r["exposure_ms_measured"] - r["exposure_ms_target"]) <= ONE_FRAME_MS for r in timed
    ]
    assert sum(within) >= 0.95 * len(timed), [
        (r["exposure"], r["exposure_ms_measured"]) for r in timed
    ]
    unlimited = [r for r in rows if r["exposure"] == "unlimited"]
    assert [
        (r["exposure_ms_target"], r["exposure_ms_measured"], r["timing_ok"]) for r in unlimited
    ] == [(None, None, 1)]
    assert shots, "no screenshot of a trial with visible images was taken"
    with Image.open(shots[0]) as shot:
        assert shot.size == (1000, 560)
    if os.environ.get("CRNKIT_DOCS_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots[0], DOCS_SCREENSHOT)


def test_reload_resumes_at_first_unanswered_trial(tmp_path, page):
    """After a reload mid-study the page continues with the first trial without an answer."""
    sets = make_scene_sets(tmp_path / "sets")
    comparisons = [{"a": "crn", "b": "pix2pix", "exposures": ["unlimited"]}]
    with serve(tmp_path, study_doc(sets, tmp_path, comparisons, trials=4)) as (url, app):
        page.goto(url)
        page.click("#start")
        last = ""
        for _ in range(2):
            assert next_step(page, last) == "response"
            last = page.get_attribute("#stage", "data-index")
            page.keyboard.press("j")
        page.wait_for_function("() => document.body.dataset.phase !== 'saving'")
        assert len(export_rows(app)) == 2
        page.reload()
        page.click("#resume")
        assert next_step(page, "") == "response"
        assert page.get_attribute("#stage", "data-index") == "2"
        assert page.inner_text("#progress-text") == "3 / 4"
        take_study(page, lambda i: ("left", "key"))
        rows = export_rows(app)
    assert [r["trial_index"] for r in rows] == [0, 1, 2, 3]
    assert [r["chosen_method"] == r["right_method"] for r in rows] == [True, True, False, False]


def test_answers_before_the_mask_are_ignored(tmp_path, page):
    """Keys in fixation and exposure do nothing; the first answer after the mask counts.

    The window shrinks below the study's minimum size before Start: the page waits until it
    is enlarged.
    """
    sets = make_scene_sets(tmp_path / "sets")
    comparisons = [{"a": "crn", "b": "pix2pix", "exposures": [1000]}]
    with serve(tmp_path, study_doc(sets, tmp_path, comparisons, trials=1)) as (url, app):
        page.goto(url)
        page.wait_for_function("() => document.body.dataset.phase === 'consent'")
        page.set_viewport_size({"width": 390, "height": 300})
        page.click("#start")
        page.wait_for_function("() => document.body.dataset.phase === 'size'")
        assert "390 × 300" in page.inner_text("#screen-size")
        page.set_viewport_size({"width": 1000, "height": 560})
        page.wait_for_function("() => document.body.dataset.phase === 'fixation'", polling=5)
        page.keyboard.press("f")
        page.wait_for_function("() => document.body.dataset.phase === 'stimulus'", polling=5)
        page.keyboard.press("f")
        page.keyboard.press("ArrowLeft")
        assert page.is_disabled("#choose-left")
        assert page.get_attribute("body", "data-phase") == "stimulus"
        page.wait_for_function("() => document.body.dataset.phase === 'response'", polling=5)
        assert page.is_visible("#mask-left") and not page.is_visible("#slot-left img.shown")
        page.keyboard.press("j")
        page.wait_for_function("() => document.body.dataset.phase === 'done'")
        rows = export_rows(app)
    assert len(rows) == 1
    assert rows[0]["chosen_method"] == rows[0]["right_method"]
    assert rows[0]["response_ms"] >= 1000 - ONE_FRAME_MS


MTURK_PARENT = "https://www.mturk.com/mturk/preview"
SANDBOX = "https://workersandbox.mturk.com"
STUDY_ORIGIN = "https://study.test"


def test_mturk_hit_in_an_iframe_submits_to_external_submit(tmp_path, page):
    """Inside MTurk's iframe (HTTPS origins routed to the local server) the HIT is taken and
    the final form goes to turkSubmitTo's externalSubmit with the assignment id."""
    sets = make_scene_sets(tmp_path / "sets")
    comparisons = [{"a": "crn", "b": "real", "exposures": [250, "unlimited"]}]
    doc = study_doc(sets, tmp_path, comparisons, trials=2)
    doc["platform"] = {"kind": "mturk", "mturk_sandbox": True}
    query = urlencode(
        {"workerId": "W1", "assignmentId": "A1", "hitId": "H1", "turkSubmitTo": SANDBOX}
    )
    parent = f'<iframe id="hit" src="{STUDY_ORIGIN}/?{query}" width="980" height="540"></iframe>'
    submitted: list[str] = []
    with serve(tmp_path, doc) as (url, app):

        def to_local_server(route):
            local = route.request.url.replace(STUDY_ORIGIN + "/", url, 1)
            route.fulfill(response=route.fetch(url=local))

        def external_submit(route):
            submitted.append(route.request.post_data or "")
            route.fulfill(status=200, body="thanks", content_type="text/plain")

        page.set_viewport_size({"width": 1000, "height": 600})
        page.route(f"{STUDY_ORIGIN}/**", to_local_server)
        page.route(f"{SANDBOX}/**", external_submit)
        page.route(MTURK_PARENT, lambda r: r.fulfill(body=parent, content_type="text/html"))
        page.goto(MTURK_PARENT)
        frame = page.wait_for_selector("#hit").content_frame()
        frame.click("#start")
        pressed = take_study(frame, lambda i: ("left", "click"))
        for _ in range(50):  # the page posts the form one second after the last answer
            if submitted:
                break
            page.wait_for_timeout(100)
        rows = export_rows(app)
    assert len(rows) == len(pressed) == 2
    assert {r["platform"] for r in rows} == {"mturk"}
    assert all(r["chosen_method"] == r["left_method"] for r in rows)
    assert submitted and "assignmentId=A1" in submitted[0]


def test_real_or_fake_study_with_markdown_consent_and_questions(tmp_path, page):
    """HYPE∞: one image at a time, F = real, J = fake; practice feedback names what it was."""
    sets = make_scene_sets(tmp_path / "sets", n_ids=8)
    doc = study_doc(sets, tmp_path, [], trials=4)
    del doc["comparisons"]
    doc["real_fake"] = [{"id": "crn_inf", "method": "crn", "real": "real", "trials": 6}]
    doc["practice"] = {"trials": 2, "a": "real", "b": "blurred", "task": "real_fake"}
    doc["catch"] = {"trials": 1, "real": "real", "bad": "blurred", "task": "real_fake"}
    doc["questions"] = {"age_band": True, "comment": True}
    doc["study"]["consent_file"] = "consent.md"
    (tmp_path / "consent.md").write_text("Read **this** first. <b>raw</b>", encoding="utf-8")
    with serve(tmp_path, doc) as (url, app):
        page.goto(url)
        assert page.inner_html("#consent").startswith("<p>Read <strong>this</strong> first.")
        assert "&lt;b&gt;raw&lt;/b&gt;" in page.inner_html("#consent")
        page.click("#start")
        seen: list[str] = []
        answers = {}

        def answer(index: int):
            assert page.is_visible("#slot-single") and not page.is_visible("#slot-left")
            side = "left" if index % 2 else "right"
            answers[index] = "real" if side == "left" else "fake"
            return side, "key" if index % 3 else "click"

        last = ""
        while True:
            step = next_step(page, last)
            if step == "questions":
                page.select_option("#q-age_band", "35-44")
                page.fill("#q-comment", "fine")
                page.click("#questions-submit")
                continue
            if step == "done":
                break
            if step == "feedback":
                seen.append(page.inner_text("#feedback-text"))
                page.click("#feedback-continue")
            elif step == "message":
                page.click("#message-continue")
            else:
                last = page.get_attribute("#stage", "data-index")
                side, how = answer(int(last))
                if how == "key":
                    page.keyboard.press("f" if side == "left" else "j")
                else:
                    page.click(f"#choose-{side}")
        assert page.inner_text("#completion-code") == "BROWSER1"
        rows = export_rows(app)
        with runtime(app).engine.connect() as conn:
            questions = conn.execute(text("SELECT age_band, comment FROM questionnaire")).all()
    assert len(rows) == 9 and [r["kind"] for r in rows[:2]] == ["practice", "practice"]
    assert all(f.startswith(("Correct!", "Incorrect: that image was")) for f in seen)
    tests = [r for r in rows if r["kind"] == "test"]
    assert sorted(r["left_method"] for r in tests) == ["crn"] * 3 + ["real"] * 3
    for row in rows:
        said_real = answers[row["trial_index"]] == "real"
        real = row["method_b"] if row["kind"] == "test" else row["method_a"]
        assert (row["chosen_method"] == real) == said_real
        assert row["task"] == "real_fake" and row["left_method"] == row["right_method"]
    assert questions == [("35-44", "fine")]


def test_staircase_exposures_follow_the_answers_and_deadline_misses(tmp_path, page):
    """HYPE_time: the exposure of each trial follows the rule over the answers so far, whole
    frames long; with a deadline, an unanswered trial is stored without a choice."""
    from study import staircase

    sets = make_scene_sets(tmp_path / "sets", n_ids=10)
    doc = study_doc(sets, tmp_path, [], trials=4)
    del doc["comparisons"]
    doc["real_fake"] = [
        {"id": "crn_time", "method": "crn", "real": "real", "exposure": "staircase", "trials": 8}
    ]
    doc["timing"] = {"fixation_ms": 200, "response_deadline_ms": 2500}
    with serve(tmp_path, doc) as (url, app):
        page.goto(url)
        page.click("#start")
        last = ""
        for k in range(8):
            assert next_step(page, last) == "response"
            last = page.get_attribute("#stage", "data-index")
            if k == 5:
                page.wait_for_function("() => document.body.dataset.phase === 'too-slow'")
                continue
            page.keyboard.press("f" if k % 2 else "j")
        page.wait_for_function("() => document.body.dataset.phase === 'done'")
        rows = export_rows(app)
        rule = runtime(app).spec.staircase
    assert [r["task"] for r in rows] == ["staircase"] * 8
    outcomes = [r["chosen_method"] == r["left_method"] for r in rows]
    assert rows[5]["chosen_method"] == "" and rows[5]["response_ms"] == 2500
    for k, row in enumerate(rows):
        level = staircase.replay(rule, outcomes[:k]).level_ms
        frame = rows[k - 1]["frame_ms"] if k else None  # the frame the browser reported last
        assert row["exposure_ms_target"] == staircase.quantise_ms(level, frame)
        assert abs(row["exposure_ms_measured"] - row["exposure_ms_target"]) <= ONE_FRAME_MS


def test_phones_are_refused_before_consent(tmp_path, browser):
    sets = make_scene_sets(tmp_path / "sets")
    comparisons = [{"a": "crn", "b": "pix2pix", "exposures": ["unlimited"]}]
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        phone = context.new_page()
        with serve(tmp_path, study_doc(sets, tmp_path, comparisons, trials=2)) as (url, app):
            phone.goto(url)
            phone.wait_for_function("() => document.body.dataset.phase === 'device'")
            assert "cannot be done on a phone or tablet" in phone.inner_text("#device-text")
            assert not phone.is_visible("#start")
            assert export_rows(app) == []
    finally:
        context.close()
