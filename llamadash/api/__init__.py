"""The side API (Starlette), built from the engine's pool (or one Instance alone).

Served by uvicorn inside the dashboard's process (:class:`ApiServer`, sharing its engine) or
headless (:func:`serve_headless`, for ``llamadash serve``). Default bind 127.0.0.1:8081; any
other address needs a token (``api_token`` / ``LLAMADASH_API_TOKEN``), else :func:`check_bind`
refuses. With a token, every route but ``/healthz`` needs ``Authorization: Bearer <token>``
(401 otherwise). Every body is JSON; errors are ``{"error": <code>, "message": ...}``.

============================  ==============================================================
``GET /healthz``              200 llamadash itself is up (no token, never touches the engine)
``GET /models``               200 profiles, current/loading marked; 503 engine unreachable
``GET /status``               200 Status; 503 engine unreachable
``POST /switch``              200 ready (also "already ready": nothing restarted); 202 with
                              ``"wait": false`` (``Location: /status``); 400 malformed body
                              or query; 404 unknown model (``suggestions``, ``valid``); 409
                              superseded or admission refused; 413 body too large; 502
                              failed (``message``, ``log_tail``); 503 engine unreachable or
                              API shutting down; 504 timeout (``timeout`` in body or query,
                              default switch_timeout)
``POST /stop``                as ``/switch`` (body optional: ``wait``, ``timeout``)
``GET /instances``            200 every instance (port, state, memory, /health ms, build)
``POST /instances``           start one alongside: as ``/switch`` (same body); 409
                              ``admission_refused`` naming what holds the memory
``DELETE /instances[/{id}]``  stop every instance (or one: 404 ``not_running``)
``GET /events``               text/event-stream: ``status`` first, then ``state`` per event
``GET /metrics``              Prometheus text, series ``llamadash_*``
``GET /openapi.json``         the OpenAPI 3.1 document of all of the above
============================  ==============================================================
"""

from llamadash.api.app import create_app
from llamadash.api.server import ApiBindError, ApiServer, check_bind, serve_headless

__all__ = ["ApiBindError", "ApiServer", "check_bind", "create_app", "serve_headless"]
