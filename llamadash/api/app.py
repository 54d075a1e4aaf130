"""The Starlette app: routes, browser guard, bearer auth and JSON errors around one Instance."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from llamadash.api import metrics, openapi, routes, sse
from llamadash.api.auth import BearerAuth
from llamadash.api.errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    internal_error_handler,
)
from llamadash.api.guard import BrowserGuard
from llamadash.api.state import KEEPALIVE_SECONDS, ApiContext
from llamadash.core.instance import Instance

ROUTES = (
    Route("/healthz", routes.healthz, methods=["GET"]),
    Route("/models", routes.models, methods=["GET"]),
    Route("/status", routes.status, methods=["GET"]),
    Route("/switch", routes.switch, methods=["POST"]),
    Route("/stop", routes.stop, methods=["POST"]),
    Route("/events", sse.events, methods=["GET"]),
    Route("/metrics", metrics.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.openapi, methods=["GET"]),
)


def create_app(
    switcher: Instance,
    *,
    token: str = "",
    host: str = "127.0.0.1",
    keepalive: float = KEEPALIVE_SECONDS,
) -> Starlette:
    """The side API over ``switcher`` (shared with the dashboard: no second copy of state).

    Args:
        switcher: the engine's switcher; every answer comes from it.
        token: when set, every route but /healthz needs ``Authorization: Bearer <token>``.
        host: the bind address; it decides which Host names are answered (guard.py).
        keepalive: seconds between keepalive comments on ``GET /events``.
    """
    app = Starlette(
        routes=list(ROUTES),
        # The guard comes first: a rebound or cross-site request learns nothing, not even 401.
        middleware=[
            Middleware(BrowserGuard, bind_host=host, token=bool(token)),
            Middleware(BearerAuth, token=token),
        ],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
    )
    app.state.ctx = ApiContext(switcher, token=token, keepalive=keepalive)
    return app


def api_context(app: Starlette) -> ApiContext:
    """The ApiContext of an app made by :func:`create_app`."""
    ctx = app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx
