"""JSON bodies of the shapes (``shapes.py``, ``core/events.py``)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import JSONResponse, Response


def json_response(
    value: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSONResponse of a shape: plain dicts and lists first (an UNSET field left out).

    ``msgspec.to_builtins`` gives what ``json_ready`` gives for the engine's dataclasses, and
    reads the API's Structs too; Starlette writes the bytes, so they are the same as before.
    """
    return JSONResponse(msgspec.to_builtins(value), status_code, headers)
