"""The OpenAPI 3.1 document of the side API, served at ``/openapi.json``.

The paths and responses are written here; the component schemas are derived from the shapes
(``schemas.py``). Tests check that the paths and methods are exactly the app's routes, and fuzz
the API from the document.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llamadash import __version__
from llamadash.api.inputs import Timeout
from llamadash.api.proxy_routes import proxy_paths
from llamadash.api.schemas import STRING, Schema, derived, ref, schema_of

JSON = "application/json"


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(description, ref("Error"))


# Every route, /healthz too (guard.py): what a web page sends is refused before anything runs.
GUARD_ERRORS: dict[str, Schema] = {
    "403": _error(
        "a web page of another origin sent it (Origin, Sec-Fetch-Site), or a browser sent"
        " a body that is not application/json"
    ),
    "421": _error(
        "the Host is not a loopback name (DNS rebinding); bound off loopback with a token,"
        " every name is answered"
    ),
}
COMMON_ERRORS: dict[str, Schema] = {
    "401": _error("a token is configured and the request lacks it"),
    **GUARD_ERRORS,
}
ENGINE_ERRORS: dict[str, Schema] = {"503": _error("the engine (Docker, process) cannot be reached")}
TIMEOUT_PARAM: Schema = {
    "name": "timeout",
    "in": "query",
    "required": False,
    "description": "seconds to wait for the outcome; the body's timeout wins",
    "schema": schema_of(Timeout),
}


SUPERSEDED = "superseded by a newer request before it ran"
REFUSED = (
    "; or refused with nothing stopped: admission_refused (an Error naming what holds the"
    " memory or the instance count: pinned or busy instances), start_refused (no free port)"
)
ID_PARAM: Schema = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "the instance's id: the profile id it runs (see GET /instances)",
    "schema": STRING,
}


def _outcomes(*, conflict: str = SUPERSEDED) -> dict[str, Schema]:
    """The answers of a request that waits for an outcome (switch, start, stop).

    ``conflict``: what a 409 means; a refusal (anything besides superseded) is an Error.
    """
    superseded = ref("SwitchResult")
    conflicts = superseded if conflict == SUPERSEDED else {"anyOf": [superseded, ref("Error")]}
    return {
        "200": _json(
            "ready (or stopped); nothing restarted if it already was", ref("SwitchResult")
        ),
        "400": _error("malformed body or query; the message names the problem"),
        **COMMON_ERRORS,
        "409": _json(conflict, conflicts),
        "502": _json("the switch failed: message and log_tail", ref("SwitchResult")),
        "503": _error("the engine cannot be reached, or the API is shutting down"),
        "504": _error("no outcome within timeout; the switch goes on"),
    }


def _change(
    summary: str,
    body: str,
    *,
    required: bool,
    extra: dict[str, Schema],
    conflict: str = SUPERSEDED,
    follow: str = "/status",
) -> Schema:
    return {
        "summary": summary,
        "parameters": [TIMEOUT_PARAM],
        "requestBody": {"required": required, "content": {JSON: {"schema": ref(body)}}},
        "responses": {
            **_outcomes(conflict=conflict),
            "202": {
                **_json(f"wait=false: accepted, follow {follow}", ref("Accepted")),
                "headers": {"Location": {"schema": STRING, "description": follow}},
            },
            **extra,
            "413": _error("the body is too large"),
        },
    }


def _stop(summary: str, *, one: bool) -> Schema:
    extra = {"404": _error("no instance runs it; running lists what does")} if one else {}
    return {
        "summary": summary,
        "parameters": [ID_PARAM, TIMEOUT_PARAM] if one else [TIMEOUT_PARAM],
        "responses": {**_outcomes(), **extra},
    }


PATHS: dict[str, dict[str, Schema]] = {
    "/healthz": {
        "get": {
            "summary": "llamadash itself is up (no token needed)",
            "security": [],
            "responses": {"200": _json("up", ref("Health")), **GUARD_ERRORS},
        }
    },
    "/models": {
        "get": {
            "summary": "profiles, with the current and the loading one marked",
            "responses": {
                "200": _json("profiles", ref("Models")),
                **COMMON_ERRORS,
                **ENGINE_ERRORS,
            },
        }
    },
    "/status": {
        "get": {
            "summary": "state, profile, since, progress, endpoint, uptime, args, last error",
            "responses": {"200": _json("status", ref("Status")), **COMMON_ERRORS, **ENGINE_ERRORS},
        }
    },
    "/switch": {
        "post": _change(
            "switch to a profile (by id or fuzzy name) and wait for the outcome",
            "SwitchRequest",
            required=True,
            extra={"404": _error("unknown model; suggestions and valid ids")},
            conflict=SUPERSEDED + REFUSED + " (max_instances > 1)",
        )
    },
    "/stop": {"post": _change("stop llama-server", "StopRequest", required=False, extra={})},
    "/pull": {
        "post": {
            "summary": "download a model from Hugging Face into models_dir (resumable, sha256"
            " checked); progress as 'pull' events on /events",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("PullRequest")}}},
            "responses": {
                "200": _json("wait=true: pulled", ref("PullProgress")),
                "202": {
                    **_json("started (or joined): follow /events", ref("PullProgress")),
                    "headers": {"Location": {"schema": STRING, "description": "/events"}},
                },
                "400": _error("malformed body, a bad reference, or a profile without hf ="),
                **COMMON_ERRORS,
                "413": _error("the body is too large"),
                "502": _json("wait=true: the pull failed (error says why)", ref("PullProgress")),
            },
        }
    },
    "/instances": {
        "get": {
            "summary": "every instance running, loading or failed (the foreground one first):"
            " port, state, memory measured or estimated, /health latency, build, ttl left",
            "responses": {
                "200": _json("instances", ref("Instances")),
                **COMMON_ERRORS,
                **ENGINE_ERRORS,
            },
        },
        "post": _change(
            "start a profile alongside what runs (restart=true: restart it where it runs)"
            " and wait for the outcome; 200 with restarted=false if it already runs",
            "SwitchRequest",
            required=True,
            extra={"404": _error("unknown model; suggestions and valid ids")},
            conflict=SUPERSEDED + REFUSED,
            follow="/instances",
        ),
        "delete": _stop("stop every instance (outcomes: each one's stop)", one=False),
    },
    "/instances/{id}": {"delete": _stop("stop one instance", one=True)},
    "/events": {
        "get": {
            "summary": "Server-Sent Events: first 'status' (a Status; 'error', an Error, when"
            " the engine cannot be observed), then 'state' (a SwitchEvent naming its instance) for"
            " every change and progress update of any instance; ': keepalive' every 15 s",
            "responses": {
                "200": {
                    "description": "the event stream",
                    "content": {"text/event-stream": {"schema": STRING}},
                },
                **COMMON_ERRORS,
            },
        }
    },
    "/dashboard": {
        "get": {
            "summary": "Server-Sent Events for an attached dashboard (?follow=<instance id>,"
            " ?boot=&since= to resume the log): 'hello' (a DashboardHello), then 'logs'"
            " (DashboardLogs), 'sample' (a DashboardSample) once a second, and 'state' (a"
            " SwitchEvent) per change of any instance",
            "responses": {
                "200": {
                    "description": "the event stream",
                    "content": {"text/event-stream": {"schema": STRING}},
                },
                **COMMON_ERRORS,
                "404": _error("no instance runs the followed id"),
                "503": _error("this llamadash serves no attached dashboards"),
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
                " route but /healthz needs 'Authorization: Bearer <token>'. Requests a web page"
                " of another origin sends, browser bodies other than JSON, and Host names other"
                " than 127.0.0.1, localhost and [::1] are refused.",
            },
            "paths": {**PATHS, **proxy_paths(COMMON_ERRORS)},
            "components": {
                "schemas": derived(),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}, {}],
        }
    )


async def openapi(request: Request) -> Response:
    """``GET /openapi.json``."""
    return JSONResponse(document())
