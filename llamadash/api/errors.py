"""Errors the API answers with: one JSON shape, ``{"error": <code>, "message": <text>, ...}``."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# The ``error`` code for the HTTP statuses Starlette itself raises (unknown path, bad method).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


class ApiError(Exception):
    """An answer other than success; raised by handlers, turned into JSON by the app.

    Attributes:
        http_status: the HTTP status code.
        code: a short machine-readable error code (``bad_request``, ``unknown_model``, …).
        message: one human-readable sentence naming the problem.
        extra: further JSON fields for the body.
        headers: extra response headers.
    """

    def __init__(
        self,
        http_status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"error": self.code, "message": self.message, **self.extra}


def bad_request(message: str, **extra: Any) -> ApiError:
    """A 400 for input that is malformed or out of range."""
    return ApiError(400, "bad_request", message, **extra)


def error_response(http_status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """A JSON error response outside a handler (middleware, exception handlers)."""
    return JSONResponse({"error": code, "message": message, **extra}, status_code=http_status)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    """Exception handler for :class:`ApiError`."""
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.http_status, headers=exc.headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Exception handler for Starlette's HTTPException (404 unknown path, 405 bad method)."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail), path=request.url.path)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    """Last resort: an unexpected exception becomes a 500 JSON body (and is logged by uvicorn)."""
    return error_response(500, "internal_error", f"{type(exc).__name__}: {exc}")
