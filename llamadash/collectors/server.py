"""llama-server's own view of itself: /health, /props, /slots and /metrics (loopback only)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from llamadash.collectors.prometheus import parse_prometheus
from llamadash.collectors.slots import SlotInfo, decode_rate, parse_slots
from llamadash.core.demand_stats import TrafficSummary
from llamadash.core.loopback import LoopbackHttp, LoopbackHttpError, Reply
from llamadash.core.net import is_loopback

__all__ = ["ServerCollector", "ServerSnapshot", "SlotInfo", "parse_prometheus", "parse_slots"]

_TIMEOUT_S = 1.0
# An idle server's /slots is asked every this many polls (always while a request runs).
SLOTS_IDLE_EVERY = 5
_ACTIVITY = ("n_decode_total", "prompt_tokens_total", "tokens_predicted_total")
_P = "llamacpp:"
# How llama-server says an endpoint is switched off (--metrics missing, --no-slots): it then
# closes the connection too, so asking again every second would also cost a reconnect.
_OFF = (404, 501)


@dataclass(frozen=True)
class ServerSnapshot:
    """llama-server at one instant; what it does not expose (no ``--metrics``…) is None.

    ``prompt_tps``/``gen_tps`` come from ``/metrics``, which llama-server only updates when a
    request finishes (its gauges cover the time since the previous scrape). ``live_gen_tps``
    comes from ``/slots`` progress and moves during a long generation. ``n_ctx`` is per slot.
    """

    reachable: bool
    health: int | None
    model_path: str | None
    n_ctx: int | None
    total_slots: int | None
    slots: tuple[SlotInfo, ...] | None
    prompt_tps: float | None
    gen_tps: float | None
    requests_processing: int | None
    requests_deferred: int | None
    kv_usage_pct: float | None
    at: float
    error: str | None
    live_gen_tps: float | None = None
    kv_tokens: int | None = None
    n_decode_total: int | None = None
    prompt_tokens_total: int | None = None
    tokens_predicted_total: int | None = None
    proxy: TrafficSummary | None = None
    """What llamadash's /v1/* endpoint sent this server lately (None: nothing yet)."""


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _counter_rate(
    name: str, new: Mapping[str, float], old: Mapping[str, float], seconds: float
) -> float | None:
    """Per-second increase of the counter ``name`` between two scrapes."""
    after, before = new.get(_P + name), old.get(_P + name)
    if after is None or before is None or seconds <= 0 or after < before:
        return None
    return (after - before) / seconds


def _throughput(
    metrics: Mapping[str, float] | None, old: Mapping[str, float] | None, seconds: float
) -> tuple[float | None, float | None]:
    """Prompt and generation tokens/s: llama-server's gauges, else the counters' deltas."""
    if metrics is None:
        return None, None
    prompt = metrics.get(_P + "prompt_tokens_seconds")
    gen = metrics.get(_P + "predicted_tokens_seconds")
    if old is not None and prompt is None:
        prompt = _counter_rate("prompt_tokens_total", metrics, old, seconds)
    if old is not None and gen is None:
        gen = _counter_rate("tokens_predicted_total", metrics, old, seconds)
    return prompt, gen


def _json(response: Reply | None) -> Any:
    """The JSON body of a 200 response, else None."""
    if response is None or response.status != 200:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return None


class ServerCollector:
    """Polls one llama-server over loopback HTTP; all requests run concurrently.

    Args:
        base_url: For example ``http://127.0.0.1:8080``.

    Raises:
        ValueError: When ``base_url`` does not point at a loopback address.
    """

    def __init__(self, base_url: str, starts: Callable[[], int] | None = None) -> None:
        url = urlsplit(base_url)
        host = url.hostname or ""
        if url.scheme != "http" or not is_loopback(host):
            raise ValueError(f"llama-server must be on loopback over http, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._client = LoopbackHttp(host, url.port or 80, timeout=_TIMEOUT_S)
        # (monotonic clock, parsed value) of the previous /metrics and /slots answers.
        self._prev_metrics: tuple[float, Mapping[str, float] | None] | None = None
        self._prev_slots: tuple[float, tuple[SlotInfo, ...] | None] | None = None
        self._idle_polls = 0
        # /props only changes when the server restarts: fetched again after /health was not 200.
        self._props: Mapping[str, Any] | None = None
        # Endpoints this server answered "off" (404/501): not asked again until it restarts.
        self._off: set[str] = set()
        # How many servers the engine has started: a new count is a restart even when no
        # poll saw /health fail (a switch faster than the refresh period).
        self._starts = starts or (lambda: 0)
        self._seen_starts = self._starts()

    async def _get(self, path: str) -> tuple[Reply | None, str | None]:
        try:
            return await self._client.get(path), None
        except LoopbackHttpError as exc:
            return None, str(exc)

    async def collect(self) -> ServerSnapshot:
        """Ask llama-server what it is doing (about 1 s timeout per request).

        /metrics first. A 200 from it (or /slots) means the server is ready, so /health is
        only asked when neither answered; /props once per server start; /slots while a
        request runs, or every few polls when idle (an idle server's slots do not change).
        An endpoint the server has switched off is not asked again until it restarts. An idle
        dashboard thus makes one request a second instead of three, with or without
        ``--metrics``, on one kept-alive connection.

        Returns:
            The snapshot; ``reachable=False`` with ``error`` set when nothing answers.
        """
        now = time.time()
        if (starts := self._starts()) != self._seen_starts:
            self._seen_starts = starts
            self._forget_server()
        metrics_r, err = None, None
        if "/metrics" not in self._off:
            metrics_r, err = await self._get("/metrics")
        metrics = None
        if metrics_r is not None and metrics_r.status == 200:
            metrics = parse_prometheus(metrics_r.text)
        slots_r = None
        answered = metrics_r is not None or "/metrics" in self._off
        if answered and "/slots" not in self._off and self._slots_due(metrics):
            slots_r, _ = await self._get("/slots")
        ready = any(r is not None and r.status == 200 for r in (metrics_r, slots_r))
        health: int | None = 200 if ready else None
        if not ready:
            health_r, health_err = await self._get("/health")
            health = None if health_r is None else health_r.status
            err = err or health_err
        if health != 200:
            self._forget_server()  # a restart: what was cached is the old server's
        else:
            self._off.update(
                path for path, r in (("/metrics", metrics_r), ("/slots", slots_r))
                if r is not None and r.status in _OFF
            )  # fmt: skip
        if health is None and metrics_r is None:
            self._prev_metrics = self._prev_slots = None
            return _unreachable(now, f"llama-server unreachable at {self.base_url} ({err})")
        if self._props is None and health == 200:
            props_r, _ = await self._get("/props")
            fetched = _json(props_r)
            if isinstance(fetched, Mapping) and fetched:
                self._props = fetched
        props: Mapping[str, Any] = self._props or {}
        defaults = props.get("default_generation_settings")
        defaults = defaults if isinstance(defaults, Mapping) else {}
        clock = time.monotonic()
        slots, live_gen_tps = self._slots_and_rate(slots_r, health, clock)
        prev, self._prev_metrics = self._prev_metrics, (clock, metrics)
        seconds = 0.0 if prev is None else clock - prev[0]
        prompt_tps, gen_tps = _throughput(metrics, None if prev is None else prev[1], seconds)
        m = metrics or {}
        kv_ratio = m.get(_P + "kv_cache_usage_ratio")
        n_ctx = _int(defaults.get("n_ctx")) or _int(props.get("n_ctx"))
        if n_ctx is None and slots:
            n_ctx = slots[0].n_ctx
        model_path = props.get("model_path")
        return ServerSnapshot(
            reachable=True,
            health=health,
            model_path=model_path if isinstance(model_path, str) and model_path else None,
            n_ctx=n_ctx,
            total_slots=_int(props.get("total_slots")),
            slots=slots,
            prompt_tps=prompt_tps,
            gen_tps=gen_tps,
            requests_processing=_int(m.get(_P + "requests_processing")),
            requests_deferred=_int(m.get(_P + "requests_deferred")),
            kv_usage_pct=None if kv_ratio is None else kv_ratio * 100.0,
            at=now,
            error=None,
            live_gen_tps=live_gen_tps,
            kv_tokens=_int(m.get(_P + "kv_cache_tokens")),
            n_decode_total=_int(m.get(_P + "n_decode_total")),
            prompt_tokens_total=_int(m.get(_P + "prompt_tokens_total")),
            tokens_predicted_total=_int(m.get(_P + "tokens_predicted_total")),
        )

    def drop_connections(self) -> None:
        """Close the idle kept-alive connections (the server is about to be stopped)."""
        self._client.close()

    def _forget_server(self) -> None:
        """Drop what belongs to one server run: its /props and the endpoints it had off."""
        self._props = None
        self._off.clear()  # the next one may have other flags

    def _slots_due(self, metrics: Mapping[str, float] | None) -> bool:
        """Ask /slots now? While busy, after activity, when /metrics says nothing; else every Nth.

        Activity: a counter moved since the last poll (a short request came and went).
        """
        self._idle_polls += 1
        kept, before = self._prev_slots, self._prev_metrics
        busy = metrics is None or (metrics.get(_P + "requests_processing") or 0) > 0
        if kept is not None and any(s.is_processing for s in kept[1] or ()):
            busy = True
        if metrics is not None and before is not None and before[1] is not None:
            busy = busy or any(metrics.get(_P + c) != before[1].get(_P + c) for c in _ACTIVITY)
        if busy or kept is None or self._idle_polls >= SLOTS_IDLE_EVERY:
            self._idle_polls = 0
            return True
        return False

    def _slots_and_rate(
        self, slots_r: Reply | None, health: int | None, clock: float
    ) -> tuple[tuple[SlotInfo, ...] | None, float | None]:
        """The slots of this poll (the kept ones when not asked) and the live decode rate."""
        kept = self._prev_slots
        if slots_r is None:
            if health == 200 and kept is not None:
                return kept[1], None  # idle: nothing decodes
            return None, None
        slots = parse_slots(_json(slots_r))
        rate = None if kept is None else decode_rate(kept[1], slots, clock - kept[0])
        self._prev_slots = (clock, slots)
        return slots, rate

    async def aclose(self) -> None:
        """Close the kept-alive connections."""
        self._client.close()


def _unreachable(now: float, error: str) -> ServerSnapshot:
    return ServerSnapshot(
        reachable=False,
        health=None,
        model_path=None,
        n_ctx=None,
        total_slots=None,
        slots=None,
        prompt_tps=None,
        gen_tps=None,
        requests_processing=None,
        requests_deferred=None,
        kv_usage_pct=None,
        at=now,
        error=error,
    )
