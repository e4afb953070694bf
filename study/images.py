"""The image route: a study's images behind opaque keys, with nothing set-dependent in headers.

A participant with developer tools sees every response header, so an image response must not
tell the sets apart: no `Last-Modified` or file-based ETag (file times differ per set, and
practice feedback names the real photo). The ETag is the content's own hash.
"""

from __future__ import annotations

import hashlib
import mimetypes

from flask import Blueprint, Response, request

from study.httperrors import NotFoundError
from study.runtime import runtime

bp = Blueprint("images", __name__)

CACHE_SECONDS = 365 * 24 * 3600


@bp.get("/img/<key>")
def image(key: str):
    """Serve one image of the study by its opaque key, with a long cache lifetime."""
    path = runtime().images.paths.get(key)
    if path is None:
        raise NotFoundError("no such image")
    data = path.read_bytes()
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = Response(data, mimetype=mimetype)
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}, immutable"
    return response.make_conditional(request)
