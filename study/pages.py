"""The participant page: an HTML shell whose script runs consent, practice, trials, finish."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, send_from_directory

from crn.errors import UserError
from study.participants import entry_refusal
from study.platforms import parse_entry
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


PROLIFIC_HINT = (
    "This study runs on Prolific. Participants open it through the link Prolific gives them, "
    "which adds their Prolific ID (PROLIFIC_PID) to the address; this address has none, so the "
    "study cannot tell who you are and cannot start. If you are testing the study, open the "
    "preview below, or add ?PROLIFIC_PID=TEST1 to the address to take it as a test participant "
    "(whose answers are stored like anyone else's)."
)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


@bp.get("/")
def index():
    """The study page for a participant arriving from the study's platform."""
    rt = runtime()
    spec = rt.spec
    kind = spec.platform.kind
    names = PLATFORM_PARAMS.get(kind, ())
    params = {name: request.args[name] for name in names if name in request.args}
    if kind == "prolific" and not params.get("PROLIFIC_PID", "").strip():
        if "preview" in request.args:
            return render_template("study_preview.html", spec=spec)
        page = render_template(
            "study_error.html",
            spec=spec,
            heading="Open this study from Prolific",
            message=PROLIFIC_HINT,
            preview_url="?preview=1",
        )
        return page, 400
    try:
        sandbox = spec.platform.mturk_sandbox if kind == "mturk" else None
        entry = parse_entry(kind, params, sandbox=sandbox)
    except UserError as err:
        return render_template("study_error.html", spec=spec, message=str(err)), 400
    if entry.preview:
        return render_template("study_preview.html", spec=spec)
    refusal = entry_refusal(rt, entry)
    notice = None
    if refusal is not None:
        if entry.worker_id is not None:
            # Known exactly who this is: say it now instead of after the Start button.
            heading = "You cannot take part" if refusal.status == 403 else "Already done"
            page = render_template(
                "study_error.html", spec=spec, heading=heading, message=_sentence(refusal.message)
            )
            return page, refusal.status
        # A local participant may already be enrolled in this browser and may finish.
        notice = _sentence(refusal.message) + " If you started it already, you can continue."
    config = page_config(spec, params)
    return render_template("study.html", spec=spec, config=config, notice=notice)


@bp.get("/favicon.ico")
def favicon():
    """The page icon browsers ask for on every page."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )
