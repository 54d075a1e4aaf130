"""The component schemas of the OpenAPI document (``openapi.py``).

The engine's dataclasses and the request bodies, field for field (tests compare them).
"""

from __future__ import annotations

from typing import Any

from llamadash.api.inputs import MAX_MODEL_CHARS, MAX_TIMEOUT
from llamadash.core.events import Result, State

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to the component schema ``name``."""
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
            "progress": _nullable(ref("Progress")),
            "error": _nullable(STRING),
            "exit_code": _nullable(INTEGER),
            "log_tail": LINES,
            "warning": STRING,
            "instance": _nullable(STRING),
            "foreground": BOOLEAN,
        }
    ),
    "InstanceInfo": _obj(
        {
            "id": STRING,
            "profile_name": STRING,
            "state": STATE,
            "foreground": BOOLEAN,
            "port": INTEGER,
            "endpoint": STRING,
            "runtime": STRING,
            "ident": STRING,
            "pid": _nullable(INTEGER),
            "uptime": _nullable(NUMBER),
            "since": NUMBER,
            "pinned": BOOLEAN,
            "ttl": NUMBER,
            "ttl_left": _nullable(NUMBER),
            "memory": _nullable(INTEGER),
            "memory_measured": BOOLEAN,
            "last_used": NUMBER,
            "log_path": STRING,
            "error": _nullable(STRING),
            "health_ms": _nullable(NUMBER),
            "build": STRING,
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
            "progress": _nullable(ref("Progress")),
            "managed": BOOLEAN,
            "queued": _nullable(STRING),
            "switching_to": _nullable(STRING),
            "log_tail": LINES,
            "warning": STRING,
            "config_error": _nullable(STRING),
            "settings_changed": LINES,
            "restart_to_apply": BOOLEAN,
            "instances": {"type": "array", "items": ref("InstanceInfo")},
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
            "models": {"type": "array", "items": ref("Model")},
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
                "outcome": ref("SwitchOutcome"),
                "status": ref("Status"),
                "error": STRING,
                "log_tail": LINES,
                "superseded_by": _nullable(STRING),
            },
            required=("message", "outcome", "status"),
        ),
        "description": "200 ready/stopped, 409 superseded (with superseded_by), 502 failed"
        " (with error = switch_failed and the server's log_tail)",
    },
    "Accepted": _obj({"message": STRING, "status": ref("Status")}),
    "Error": {
        **_obj({"error": STRING, "message": STRING}),
        "description": "Every error; some add fields: unknown_model adds query, suggestions"
        " and valid; timeout adds timeout and status; bad_request may add field(s).",
        "additionalProperties": True,
    },
}
