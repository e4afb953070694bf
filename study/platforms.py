"""Crowdsourcing platforms (local, Prolific, MTurk): entry parameters, completion, worker-id hashes.

Pure functions: no Flask, no database. Worker ids leave this module only as keyed HMAC hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from crn.errors import UserError
from study.spec import PlatformSpec

PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc="
MTURK_HOSTS = {"live": "https://www.mturk.com", "sandbox": "https://workersandbox.mturk.com"}
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
EXTERNAL_QUESTION_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/"
    "ExternalQuestion.xsd"
)
# Matched with fullmatch: `$` would also accept a final newline ("W\n" next to "W").
_PLATFORM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class PlatformError(UserError):
    """Missing or invalid platform parameters (in the entry URL or the spec)."""


@dataclass(frozen=True)
class PlatformEntry:
    """What a participant's entry URL says about them; worker_id is None for local and previews."""

    platform: str
    worker_id: str | None
    preview: bool = False
    assignment_id: str = ""
    hit_id: str = ""
    submit_to: str = ""
    session_id: str = ""
    platform_study_id: str = ""


@dataclass(frozen=True)
class Completion:
    """How a finished participant is sent back: show a code, redirect, or POST a form."""

    kind: str
    code: str = ""
    url: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def normalise_worker_id(platform: str, worker_id: str) -> str:
    """The canonical form of a worker id: surrounding whitespace dropped, the platform's case.

    Prolific ids are lower-case hex and MTurk ids upper-case letters and digits, so neither
    platform tells ids apart by case: one person stays one worker however the id was typed or
    pasted, and a real id keeps the hash it always had.
    """
    text = worker_id.strip()
    if platform == "prolific":
        return text.lower()
    if platform == "mturk":
        return text.upper()
    return text


def hash_worker_id(key: bytes, platform: str, worker_id: str) -> str:
    """Keyed hash (HMAC-SHA256, hex) of a platform's normalised worker id: the only form stored."""
    if not key:
        raise PlatformError("the key for hashing worker ids is empty")
    canonical = normalise_worker_id(platform, worker_id)
    message = f"{platform}\x00{canonical}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _required(args: Mapping[str, str], name: str) -> str:
    if not args.get(name):
        raise PlatformError(f"missing URL parameter {name}")
    return args[name]


def _param(args: Mapping[str, str], name: str, required: bool) -> str:
    # Surrounding whitespace (a pasted link's newline) is dropped; anything else that is not
    # an id character, control characters included, is refused rather than hashed.
    value = args.get(name, "").strip()
    if not value:
        if required:
            raise PlatformError(f"missing URL parameter {name}")
        return ""
    if not _PLATFORM_ID.fullmatch(value):
        raise PlatformError(
            f"URL parameter {name} is not a valid id "
            "(expected 1-128 letters, digits, '_', '.', ':' or '-')"
        )
    return value


def mturk_submit_origin(url: str) -> str:
    """`url` as one of the two MTurk origins, or PlatformError: never post anywhere else."""
    parts = urlsplit(url.strip())
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in MTURK_HOSTS.values() or parts.path not in ("", "/") or parts.query:
        allowed = " or ".join(MTURK_HOSTS.values())
        raise PlatformError(f"turkSubmitTo must be {allowed}, got '{url}'")
    return origin


def parse_entry(
    platform_kind: str, args: Mapping[str, str], sandbox: bool | None = None
) -> PlatformEntry:
    """Read a participant's entry parameters for `platform_kind` (local, prolific, mturk).

    With `sandbox` given, an MTurk turkSubmitTo of the other site is refused.
    """
    if platform_kind == "local":
        return PlatformEntry("local", None)
    if platform_kind == "prolific":
        return PlatformEntry(
            "prolific",
            _param(args, "PROLIFIC_PID", required=True),
            session_id=_param(args, "SESSION_ID", required=False),
            platform_study_id=_param(args, "STUDY_ID", required=False),
        )
    if platform_kind != "mturk":
        raise PlatformError(f"platform '{platform_kind}' is not one of local, prolific, mturk")
    assignment = args.get("assignmentId", "")
    if assignment == MTURK_PREVIEW:
        return PlatformEntry("mturk", None, preview=True, hit_id=args.get("hitId", "")[:128])
    origin = mturk_submit_origin(_required(args, "turkSubmitTo"))
    if sandbox is not None and origin != MTURK_HOSTS["sandbox" if sandbox else "live"]:
        site = "the worker sandbox" if sandbox else "the live site"
        raise PlatformError(f"this study expects MTurk {site}, but turkSubmitTo is {origin}")
    return PlatformEntry(
        "mturk",
        _param(args, "workerId", required=True),
        assignment_id=_param(args, "assignmentId", required=True),
        hit_id=_param(args, "hitId", required=True),
        submit_to=origin,
    )


def completion_target(platform: PlatformSpec, entry: PlatformEntry) -> Completion:
    """Where a finished participant goes: a code (local), a redirect (prolific), a POST (mturk)."""
    code = platform.completion_code
    if platform.kind == "local":
        return Completion("code", code=code)
    if platform.kind == "prolific":
        if not code:
            raise PlatformError("a Prolific study needs platform.completion_code")
        return Completion("redirect", code=code, url=PROLIFIC_COMPLETE + quote(code, safe=""))
    if platform.kind == "mturk":
        if entry.preview or not entry.assignment_id:
            raise PlatformError("an MTurk preview cannot be submitted (no assignmentId)")
        url = mturk_submit_origin(entry.submit_to) + "/mturk/externalSubmit"
        fields = {"assignmentId": entry.assignment_id, "completion": code or "done"}
        return Completion("post", code=code, url=url, fields=fields)
    raise PlatformError(f"platform '{platform.kind}' is not one of local, prolific, mturk")


def _public_url(public_url: str, https_only: bool) -> str:
    parts = urlsplit(public_url)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc or parts.fragment:
        expected = "an https:// URL" if https_only else "an http(s):// URL"
        raise PlatformError(f"public URL '{public_url}' is not valid (expected {expected})")
    return public_url


def prolific_url_template(public_url: str) -> str:
    """The study URL to paste into Prolific, with its three placeholders."""
    url = _public_url(public_url, https_only=False)
    joiner = "&" if urlsplit(url).query else "?"
    params = "&".join(f"{p}={{{{%{p}%}}}}" for p in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"))
    return f"{url}{joiner}{params}"


def mturk_external_question_xml(public_url: str, frame_height: int = 800) -> str:
    """An MTurk ExternalQuestion document pointing at the study (MTurk requires https)."""
    url = _public_url(public_url, https_only=True)
    if isinstance(frame_height, bool) or not isinstance(frame_height, int) or frame_height < 0:
        raise PlatformError(f"frame height must be a non-negative integer, got {frame_height!r}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_NS}">\n'
        f"  <ExternalURL>{escape(url)}</ExternalURL>\n"
        f"  <FrameHeight>{frame_height}</FrameHeight>\n"
        "</ExternalQuestion>\n"
    )
