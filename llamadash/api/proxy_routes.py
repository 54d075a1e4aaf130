"""The OpenAI-compatible routes: ``GET /v1/models`` and the forwarded ones, with their OpenAPI.

The forwarded bodies and answers are llama-server's (OpenAI's and Anthropic's shapes); the
document describes what llamadash adds: the model picks the profile, and its own refusals.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from llamadash.api.auth import token_rule
from llamadash.api.encode import json_response
from llamadash.api.proxy import PROXIED_PATHS, ProxyEndpoint
from llamadash.api.proxy_loading import LOADING_OBJECTS
from llamadash.api.schemas import Schema, ref
from llamadash.api.shapes import ModelCard, ModelList
from llamadash.api.state import context
from llamadash.core.events import BUSY_STATES, State

STARTED = int(time.time())  # OpenAI's "created": profiles have no date; llamadash's start


async def list_models(request: Request) -> Response:
    """``GET /v1/models``: every profile (a named token's: those it may use), with its state."""
    ctx = context(request)
    rule = token_rule(request.scope)
    states: dict[str, str] = {}
    instances = ctx.pool.instances() if ctx.pool is not None else [ctx.switcher]
    for instance in instances:
        last = instance.last_event
        if last.profile_id is None:
            continue
        if last.state == State.READY and instance.running:
            states[last.profile_id] = "loaded"
        elif last.state in BUSY_STATES:
            states.setdefault(last.profile_id, "loading")
    cards = tuple(
        ModelCard(
            id=p.id,
            object="model",
            created=STARTED,
            owned_by="llamadash",
            name=p.name,
            state=states.get(p.id, "unloaded"),
        )
        for p in ctx.switcher.profiles.profiles
        if rule is None or rule.allows(p.id)
    )
    return json_response(ModelList(object="list", data=cards))


def proxy_routes() -> list[BaseRoute]:
    """``GET /v1/models`` and a POST route per forwarded path."""
    routes: list[BaseRoute] = [Route("/v1/models", list_models, methods=["GET"])]
    routes += [Route(path, ProxyEndpoint(path), methods=["POST"]) for path in PROXIED_PATHS]
    return routes


def _proxy_error(description: str, *, or_server: bool = False) -> Schema:
    schema = ref("ProxyError")
    if or_server:  # llama-server's own refusals of a body pass through in its shape
        schema = {"anyOf": [schema, {"type": "object"}]}
        description += "; or llama-server's own answer to the body, passed through"
    return {"description": description, "content": {"application/json": {"schema": schema}}}


FORWARDED_RESPONSES: dict[str, Schema] = {
    "200": {
        "description": "llama-server's answer, passed through (an event stream when the body"
        " asks for stream: true)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {"schema": {"type": "string"}},
        },
    },
    "400": _proxy_error(
        "the body is not a JSON object, or names no model while several run", or_server=True
    ),
    "403": _proxy_error("the request's named token may not use the model (message: those it may)"),
    "404": _proxy_error("no profile matches the model (message: near matches)"),
    "409": _proxy_error(
        "a person chose another model within manual_hold seconds, or on_demand is off"
    ),
    "429": _proxy_error("queue_limit requests already wait for the model (Retry-After)"),
    "502": _proxy_error("the model failed to load (log_tail), or its server is unreachable"),
    "503": _proxy_error("the swap could not happen within max_wait (requests in flight)"),
    "504": _proxy_error("the model was not ready within switch_timeout"),
}
MODEL_HEADER: Schema = {
    "name": "X-Model-Id",
    "in": "header",
    "required": False,
    "description": "the profile to use, over the body's model",
    "schema": {"type": "string"},
}
LOADING_STATE_HEADER: Schema = {
    "name": "X-Loading-State",
    "in": "header",
    "required": False,
    "description": "1 or 0 over the loading_state setting: a stream that waits for its model"
    " first gets one chunk per load stage (reasoning_content, loading)",
    "schema": {"type": "string", "enum": ["1", "0", "true", "false", "on", "off"]},
}


def proxy_paths(common_errors: dict[str, Schema]) -> dict[str, dict[str, Schema]]:
    """The OpenAPI paths of the proxy's routes."""
    paths: dict[str, dict[str, Schema]] = {
        "/v1/models": {
            "get": {
                "summary": "every profile in OpenAI's list shape, with its state",
                "responses": {
                    "200": {
                        "description": "the models",
                        "content": {"application/json": {"schema": ref("ModelList")}},
                    },
                    **common_errors,
                },
            }
        }
    }
    for path in PROXIED_PATHS:
        paths[path] = {
            "post": {
                "summary": f"llama-server's {path}: the body's model (or X-Model-Id) picks the"
                " profile, started or swapped in on demand; the body passes through",
                "parameters": [MODEL_HEADER]
                + ([LOADING_STATE_HEADER] if path in LOADING_OBJECTS else []),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {**FORWARDED_RESPONSES, **common_errors},
            }
        }
    return paths
