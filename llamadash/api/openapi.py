"""The OpenAPI 3.1 document of the side API, written by hand and served at ``/openapi.json``.

Tests check that its paths and methods are exactly the app's routes, that the component
schemas list exactly the fields of the engine's dataclasses, and fuzz the API from it.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llamadash import __version__
from llamadash.api.inputs import MAX_MODEL_CHARS, MAX_TIMEOUT
from llamadash.core.events import Result, State

JSON = "application/json"
Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def _obj(properties: dict[str, Schema], *, required: tuple[str, ...] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


STRING: Schema = {"type": "string"}
NUMBER: Schema = {"type": "number"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
LINES: Schema = {"type": "array", "items": STRING}
STATE: Schema = {"type": "string", "enum": [s.value for s in State]}

SCHEMAS: dict[str, Schema] = {
    "Progress": _obj(
        {
            "stage": STRING,
            "pct": NUMBER,
            "elapsed": NUMBER,
            "eta": _nullable(NUMBER),
        }
    ),
    "SwitchEvent": _obj(
        {
            "state": STATE,
            "profile_id": _nullable(STRING),
            "profile_name": STRING,
            "at": NUMBER,
            "message": STRING,
            "progress": _nullable(_ref("Progress")),
            "error": _nullable(STRING),
            "exit_code": _nullable(INTEGER),
            "log_tail": LINES,
            "warning": STRING,
        }
    ),
    "SwitchOutcome": _obj(
        {
            "result": {"type": "string", "enum": [r.value for r in Result]},
            "profile_id": _nullable(STRING),
            "message": STRING,
            "seconds": NUMBER,
            "restarted": BOOLEAN,
            "log_tail": LINES,
            "superseded_by": _nullable(STRING),
        }
    ),
    "Status": _obj(
        {
            "state": STATE,
            "profile_id": _nullable(STRING),
            "profile_name": STRING,
            "since": NUMBER,
            "runtime": STRING,
            "endpoint": STRING,
            "container": STRING,
            "container_state": STRING,
            "uptime": _nullable(NUMBER),
            "args": LINES,
            "last_error": _nullable(STRING),
            "exit_code": _nullable(INTEGER),
            "note": STRING,
            "progress": _nullable(_ref("Progress")),
            "managed": BOOLEAN,
            "queued": _nullable(STRING),
            "switching_to": _nullable(STRING),
            "log_tail": LINES,
            "warning": STRING,
            "config_error": _nullable(STRING),
            "settings_changed": LINES,
            "restart_to_apply": BOOLEAN,
        }
    ),
    "Model": _obj(
        {
            "id": STRING,
            "name": STRING,
            "number": STRING,
            "model": STRING,
            "speed": STRING,
            "ctx": _nullable(INTEGER),
            "bench": BOOLEAN,
            "current": BOOLEAN,
            "loading": BOOLEAN,
            "restart_to_apply": BOOLEAN,
        }
    ),
    "Models": _obj(
        {
            "current": _nullable(STRING),
            "loading": _nullable(STRING),
            "state": STATE,
            "models": {"type": "array", "items": _ref("Model")},
            "config_error": _nullable(STRING),
            "settings_changed": LINES,
        }
    ),
    "Health": _obj({"ok": BOOLEAN, "version": STRING, "uptime": NUMBER, "busy": BOOLEAN}),
    "SwitchRequest": {
        **_obj(
            {
                "model": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_MODEL_CHARS,
                    "description": "profile id, menu number (2, b1), id prefix or name",
                },
                "wait": {
                    "type": "boolean",
                    "default": True,
                    "description": "false: answer 202 at once, the switch runs on",
                },
                "restart": {
                    "type": "boolean",
                    "default": False,
                    "description": "restart even if this profile is already ready",
                },
                "timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_TIMEOUT,
                    "description": "seconds to wait (default: switch_timeout setting)",
                },
                "exact": {
                    "type": "boolean",
                    "default": False,
                    "description": "model is an exact profile id: 404 unless models.conf has"
                    " it now (never matched by number, prefix or name)",
                },
            },
            required=("model",),
        ),
        "additionalProperties": False,
    },
    "StopRequest": {
        **_obj(
            {
                "wait": {"type": "boolean", "default": True},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT},
            },
            required=(),
        ),
        "additionalProperties": False,
    },
    "SwitchResult": {
        **_obj(
            {
                "message": STRING,
                "outcome": _ref("SwitchOutcome"),
                "status": _ref("Status"),
                "error": STRING,
                "log_tail": LINES,
                "superseded_by": _nullable(STRING),
            },
            required=("message", "outcome", "status"),
        ),
        "description": "200 ready/stopped, 409 superseded (with superseded_by), 502 failed"
        " (with error = switch_failed and the server's log_tail)",
    },
    "Accepted": _obj({"message": STRING, "status": _ref("Status")}),
    "Error": {
        **_obj({"error": STRING, "message": STRING}),
        "description": "Every error; some add fields: unknown_model adds query, suggestions"
        " and valid; timeout adds timeout and status; bad_request may add field(s).",
        "additionalProperties": True,
    },
}


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(description, _ref("Error"))


COMMON_ERRORS: dict[str, Schema] = {
    "401": _error("a token is configured and the request lacks it"),
}
ENGINE_ERRORS: dict[str, Schema] = {"503": _error("the engine (Docker, process) cannot be reached")}
TIMEOUT_PARAM: Schema = {
    "name": "timeout",
    "in": "query",
    "required": False,
    "description": "seconds to wait for the outcome; the body's timeout wins",
    "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT},
}


def _change(summary: str, body: str, *, required: bool, extra: dict[str, Schema]) -> Schema:
    return {
        "summary": summary,
        "parameters": [TIMEOUT_PARAM],
        "requestBody": {"required": required, "content": {JSON: {"schema": _ref(body)}}},
        "responses": {
            "200": _json(
                "ready (or stopped); nothing restarted if it already was", _ref("SwitchResult")
            ),
            "202": {
                **_json("wait=false: accepted, follow /status", _ref("Accepted")),
                "headers": {"Location": {"schema": STRING, "description": "/status"}},
            },
            "400": _error("malformed body or query; the message names the problem"),
            **extra,
            **COMMON_ERRORS,
            "409": _json("superseded by a newer request before it ran", _ref("SwitchResult")),
            "413": _error("the body is too large"),
            "502": _json("the switch failed: message and log_tail", _ref("SwitchResult")),
            "503": _error("the engine cannot be reached, or the API is shutting down"),
            "504": _error("no outcome within timeout; the switch goes on"),
        },
    }


PATHS: dict[str, dict[str, Schema]] = {
    "/healthz": {
        "get": {
            "summary": "llamadash itself is up (no token needed)",
            "security": [],
            "responses": {"200": _json("up", _ref("Health"))},
        }
    },
    "/models": {
        "get": {
            "summary": "profiles, with the current and the loading one marked",
            "responses": {
                "200": _json("profiles", _ref("Models")),
                **COMMON_ERRORS,
                **ENGINE_ERRORS,
            },
        }
    },
    "/status": {
        "get": {
            "summary": "state, profile, since, progress, endpoint, uptime, args, last error",
            "responses": {"200": _json("status", _ref("Status")), **COMMON_ERRORS, **ENGINE_ERRORS},
        }
    },
    "/switch": {
        "post": _change(
            "switch to a profile (by id or fuzzy name) and wait for the outcome",
            "SwitchRequest",
            required=True,
            extra={"404": _error("unknown model; suggestions and valid ids")},
        )
    },
    "/stop": {"post": _change("stop llama-server", "StopRequest", required=False, extra={})},
    "/events": {
        "get": {
            "summary": "Server-Sent Events: first 'status' (a Status; 'error', an Error, when"
            " the engine cannot be observed), then 'state' (a SwitchEvent) for every change and"
            " progress update; ': keepalive' every 15 s",
            "responses": {
                "200": {
                    "description": "the event stream",
                    "content": {"text/event-stream": {"schema": STRING}},
                },
                **COMMON_ERRORS,
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (llamadash_*)",
            "responses": {
                "200": {
                    "description": "text exposition format 0.0.4",
                    "content": {"text/plain": {"schema": STRING}},
                },
                **COMMON_ERRORS,
                **ENGINE_ERRORS,
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "this document",
            "responses": {"200": _json("OpenAPI 3.1", {"type": "object"}), **COMMON_ERRORS},
        }
    },
}


def document() -> dict[str, Any]:
    """A fresh copy of the OpenAPI document."""
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "llamadash side API",
                "version": __version__,
                "description": "Switch, stop and watch llama-server. With api_token set, every"
                " route but /healthz needs 'Authorization: Bearer <token>'.",
            },
            "paths": PATHS,
            "components": {
                "schemas": SCHEMAS,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}, {}],
        }
    )


async def openapi(request: Request) -> Response:
    """``GET /openapi.json``."""
    return JSONResponse(document())
