"""The participant page: an HTML shell whose script runs consent, practice, trials, finish."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from crn.errors import UserError
from study.runtime import runtime

bp = Blueprint("pages", __name__)

# The URL parameters each platform appends; only these are handed back to /api/enrol.
PLATFORM_PARAMS: dict[str, tuple[str, ...]] = {
    "local": (),
    "prolific": ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    "mturk": ("workerId", "assignmentId", "hitId", "turkSubmitTo"),
}
FIXATION_MS = 500


def page_config(spec, params: dict[str, str]) -> dict:
    """The settings the participant script reads from the page's JSON block."""
    display = spec.display
    return {
        "study_id": spec.id,
        "platform": spec.platform.kind,
        "params": params,
        "question": spec.question,
        "practice_trials": spec.practice_trials,
        "practice_feedback": bool(spec.practice and spec.practice.feedback),
        "fixation_ms": FIXATION_MS,
        "display": {
            "width": display.width,
            "height": display.height,
            "min_window_width": display.min_window_width,
            "min_window_height": display.min_window_height,
            "fullscreen": display.fullscreen,
            "break_every": display.break_every,
        },
    }


@bp.get("/")
def index():
    """The study page for a participant arriving from the study's platform."""
    from study.platforms import parse_entry

    spec = runtime().spec
    names = PLATFORM_PARAMS.get(spec.platform.kind, ())
    params = {name: request.args[name] for name in names if name in request.args}
    try:
        entry = parse_entry(spec.platform.kind, params)
    except UserError as err:
        return render_template("study_error.html", spec=spec, message=str(err)), 400
    if entry.preview:
        return render_template("study_preview.html", spec=spec)
    return render_template("study.html", spec=spec, config=page_config(spec, params))
