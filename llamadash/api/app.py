"""The Starlette app: routes, browser guard, bearer auth and JSON errors around the pool."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from llamadash.api import dashboard, instances, metrics, openapi, pulls, routes, sse
from llamadash.api.auth import BearerAuth
from llamadash.api.dashboard import DashboardFeed
from llamadash.api.errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    internal_error_handler,
)
from llamadash.api.guard import BrowserGuard
from llamadash.api.proxy import PROXIED_PATHS, ProxyEndpoint
from llamadash.api.proxy_routes import proxy_routes
from llamadash.api.state import KEEPALIVE_SECONDS, ApiContext
from llamadash.core.demand import DemandRouter
from llamadash.core.idle import IdleWatch
from llamadash.core.instance import Instance
from llamadash.core.pool import Pool
from llamadash.core.tokens import NamedToken

ROUTES = (
    Route("/healthz", routes.healthz, methods=["GET"]),
    Route("/models", routes.models, methods=["GET"]),
    Route("/status", routes.status, methods=["GET"]),
    Route("/switch", routes.switch, methods=["POST"]),
    Route("/stop", routes.stop, methods=["POST"]),
    Route("/pull", pulls.pull, methods=["POST"]),
    Route("/instances", instances.listing, methods=["GET"]),
    Route("/instances", instances.start, methods=["POST"]),
    Route("/instances", instances.stop_all, methods=["DELETE"]),
    Route("/instances/{id}", instances.stop_one, methods=["DELETE"]),
    Route("/events", sse.events, methods=["GET"]),
    Route("/dashboard", dashboard.dashboard, methods=["GET"]),
    Route("/metrics", metrics.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.openapi, methods=["GET"]),
)


def create_app(
    switcher: Instance,
    *,
    pool: Pool | None = None,
    idle: IdleWatch | None = None,
    router: DemandRouter | None = None,
    token: str = "",
    named: tuple[NamedToken, ...] = (),
    host: str = "127.0.0.1",
    keepalive: float = KEEPALIVE_SECONDS,
    dashboards: DashboardFeed | None = None,
) -> Starlette:
    """The side API over the engine (shared with the dashboard: no second copy of state).

    Args:
        switcher: the engine's foreground instance (``engine.switcher``).
        pool: the engine's pool (``engine.pool``, whose foreground is ``switcher``): /switch
            then admits, /status lists every instance and /instances acts on them. Without
            it the API drives ``switcher`` alone and /instances answers 503.
        idle: the pool's idle watch (``engine.idle``), for the ttl left.
        router: the pool's on-demand router (``engine.router``) for /v1/*; made here when
            there is a pool and none is given.
        token: when set, every route but /healthz needs ``Authorization: Bearer <token>``.
        named: the ``[token NAME]`` tokens, each limited to some models and routes (it
            needs ``token`` set: see ApiServer).
        host: the bind address; it decides which Host names are answered (guard.py).
        keepalive: seconds between keepalive comments on ``GET /events``.
        dashboards: what ``GET /dashboard`` streams to attached dashboards (None: 503).
    """
    app = Starlette(
        routes=[*ROUTES, *proxy_routes()],
        # The guard comes first: a rebound or cross-site request learns nothing, not even 401.
        middleware=[
            Middleware(BrowserGuard, bind_host=host, token=bool(token)),
            Middleware(BearerAuth, token=token, named=named),
        ],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
    )
    if pool is not None and pool.foreground is not switcher:
        raise ValueError("the pool's foreground instance is not the switcher given")
    if router is None and pool is not None:
        router = DemandRouter(pool)
    # The forwarded routes, checked by the same guard and token but past Starlette's router
    # and exception layers (a third of the proxy's CPU per request; bench/bench_proxy.py).
    app.state.fast = {
        path: BrowserGuard(BearerAuth(ProxyEndpoint(path), token=token, named=named),
                           bind_host=host, token=bool(token))
        for path in PROXIED_PATHS
    }  # fmt: skip
    app.state.ctx = ApiContext(
        switcher,
        token=token,
        keepalive=keepalive,
        pool=pool,
        idle=idle,
        router=router,
        dashboards=dashboards,
    )
    return app


def api_context(app: Starlette) -> ApiContext:
    """The ApiContext of an app made by :func:`create_app`."""
    ctx = app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx
