"""HTTP errors of the study server: service code raises them; responses are `{"error": …}`."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_DEFAULT_MESSAGES = {
    400: "the request could not be read (expected a JSON object)",
    401: "missing or invalid participant token (send 'Authorization: Bearer <token>')",
    403: "not allowed",
    404: "not found",
    405: "method not allowed for this URL",
    409: "conflicts with what is already stored",
    413: "request body too large",
    422: "invalid field",
    429: "too many requests, slow down",
}


class ApiError(Exception):
    """A client error with its HTTP status and one clear line for the participant page."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequestError(ApiError):
    """Malformed request (not JSON, not an object)."""

    status = 400


class UnauthorizedError(ApiError):
    """Missing or invalid participant token."""

    status = 401


class ForbiddenError(ApiError):
    """Authenticated, but not allowed to do this."""

    status = 403


class NotFoundError(ApiError):
    """No such trial or resource."""

    status = 404


class ConflictError(ApiError):
    """Contradicts stored state (a different second answer, an unserved trial…)."""

    status = 409


class InvalidError(ApiError):
    """A field has the wrong type or range."""

    status = 422


def error_response(status: int, message: str):
    """The JSON error response every failure uses."""
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def register_error_handlers(app: Flask) -> None:
    """Turn ApiError, werkzeug HTTP errors and unexpected exceptions into JSON errors."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return error_response(err.status, err.message)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        message = _DEFAULT_MESSAGES.get(status) or (err.description or err.name)
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body too large (limit {limit} bytes)" if limit else message
        response = error_response(status, message)
        if status == 405 and err.get_response().headers.get("Allow"):
            response.headers["Allow"] = err.get_response().headers["Allow"]
        return response

    @app.errorhandler(OperationalError)
    def _storage_unavailable(err: OperationalError):
        # A locked or full database: the write transaction was rolled back, so nothing was
        # stored and the client may send the same request again.
        log.warning("storage unavailable: %s", err.orig)
        response = error_response(503, "the study could not save right now; please retry")
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unexpected error while handling a request")
        return error_response(500, "internal server error")
