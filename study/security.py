"""Security headers for every response of the study app: CSP, nosniff, referrer and frame policy.

Participant pages may be framed by MTurk (its ExternalQuestion runs the study in an iframe), so
framing is limited with CSP `frame-ancestors` rather than X-Frame-Options, which cannot name
several origins. Inline script is never allowed; inline style only through a per-request nonce.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request

MTURK_ORIGINS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
# Where a participant's browser may be sent by a form at the end of a study.
COMPLETION_ORIGINS = (*MTURK_ORIGINS, "https://app.prolific.com")
DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024
ADMIN_PREFIX = "/admin"

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def csp_nonce() -> str:
    """This request's CSP nonce (for `<style nonce=…>`), created on first use."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = secrets.token_urlsafe(16)
        g.csp_nonce = nonce
    return nonce


def content_security_policy(nonce: str | None, frame_ancestors: tuple[str, ...]) -> str:
    """The CSP header value: same-origin everything, no inline script, nonce'd inline style.

    Without a nonce (nothing on the page asked for one) no inline style is allowed at all.
    """
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' 'nonce-{nonce}'" if nonce else "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self' " + " ".join(COMPLETION_ORIGINS),
        "frame-ancestors " + " ".join(frame_ancestors),
        "base-uri 'none'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def _is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


# The admin pages are never framed; participant pages may be, by MTurk only.
ADMIN_ANCESTORS = ("'none'",)
PARTICIPANT_ANCESTORS = ("'self'", *MTURK_ORIGINS)
# Most responses (the JSON API, images) render no template and need no nonce: their policy
# is the same every time, so it is built once.
_NO_NONCE_POLICY = {
    True: content_security_policy(None, ADMIN_ANCESTORS),
    False: content_security_policy(None, PARTICIPANT_ANCESTORS),
}


def apply_security_headers(response: Response) -> Response:
    """Add the security headers to `response` (an after_request hook)."""
    admin = _is_admin_path(request.path)
    nonce = g.get("csp_nonce")
    if nonce is None:
        policy = _NO_NONCE_POLICY[admin]
    else:
        policy = content_security_policy(nonce, ADMIN_ANCESTORS if admin else PARTICIPANT_ANCESTORS)
    response.headers["Content-Security-Policy"] = policy
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if admin or response.mimetype == "application/json":
        # Progress, exports and API answers are per-person and must not sit in shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_security(app: Flask) -> None:
    """Install the security headers, a request-size limit and `csp_nonce()` in templates."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_CONTENT_LENGTH
    app.after_request(apply_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
