"""``GET /metrics``: Prometheus text exposition (format 0.0.4), every series ``llamadash_``."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from llamadash.api.state import ApiContext, context
from llamadash.core.events import State, Status
from llamadash.core.histogram import Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: str) -> str:
    """A label value escaped as the exposition format requires."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _header(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def histogram(name: str, help_text: str, hist: Histogram) -> list[str]:
    """A histogram with cumulative ``le`` buckets (ending at +Inf), ``_sum`` and ``_count``."""
    return [*_header(name, "histogram", help_text), *_samples(name, hist)]


def _samples(name: str, hist: Histogram, label: str = "") -> list[str]:
    """A histogram's ``_bucket``, ``_sum`` and ``_count`` lines (``label``: e.g. a profile)."""
    braced = f"{{{label}}}" if label else ""
    lines = [
        f'{name}_bucket{{{label + "," if label else ""}le="{_number(bound)}"}} {count}'
        for bound, count in hist.cumulative()
    ]
    lines.append(f"{name}_sum{braced} {_number(hist.sum)}")
    lines.append(f"{name}_count{braced} {hist.count}")
    return lines


def _labelled(name: str, help_text: str, kind: str, values: Mapping[str, float]) -> list[str]:
    lines = _header(name, kind, help_text)
    for profile, value in sorted(values.items()):
        lines.append(f'{name}{{profile="{escape_label(profile)}"}} {_number(value)}')
    return lines


def _profile_histogram(name: str, help_text: str, hists: dict[str, Histogram]) -> list[str]:
    lines = _header(name, "histogram", help_text)
    for profile, hist in sorted(hists.items()):
        lines += _samples(name, hist, f'profile="{escape_label(profile)}"')
    return lines


def proxy_lines(ctx: ApiContext) -> list[str]:
    """The /v1/* series: per profile requests by code, tokens, waits, first byte, swaps."""
    traffic = ctx.traffic.profiles
    lines = _header(
        "llamadash_proxy_requests_total", "counter", "/v1/* requests answered, by HTTP code."
    )
    for profile, seen in sorted(traffic.items()):
        for code, count in sorted(seen.requests.items()):
            label = f'profile="{escape_label(profile)}",code="{code}"'
            lines.append(f"llamadash_proxy_requests_total{{{label}}} {count}")
    lines += _labelled(
        "llamadash_proxy_tokens_in_total", "Prompt tokens (the server's usage or timings).",
        "counter", {p: t.tokens_in for p, t in traffic.items()},
    )  # fmt: skip
    lines += _labelled(
        "llamadash_proxy_tokens_out_total", "Generated tokens (the server's usage or timings).",
        "counter", {p: t.tokens_out for p, t in traffic.items()},
    )  # fmt: skip
    lines += _profile_histogram(
        "llamadash_proxy_queue_wait_seconds", "Seconds a request waited for its model.",
        {p: t.waits for p, t in traffic.items()},
    )  # fmt: skip
    lines += _profile_histogram(
        "llamadash_proxy_first_byte_seconds",
        "Seconds from a request's arrival to its answer's first byte (first token when streamed).",
        {p: t.first_token for p, t in traffic.items()},
    )
    router = ctx.router
    lines += _labelled(
        "llamadash_proxy_swaps_total", "Loads caused by requests that replaced another model.",
        "counter", dict(router.swaps) if router else {},
    )  # fmt: skip
    lines += _labelled(
        "llamadash_proxy_loads_total", "Loads caused by requests.",
        "counter", dict(router.loads) if router else {},
    )  # fmt: skip
    waiting = {p: router.waiting(p) for p in router.queued()} if router else {}
    lines += _labelled(
        "llamadash_proxy_waiting", "Requests waiting for their model now.", "gauge", waiting
    )
    return lines


def render(ctx: ApiContext, status: Status) -> str:
    """The whole exposition for the switcher's counters and ``status``."""
    stats = ctx.switcher.stats
    lines: list[str] = []
    for name, kind, help_text, value in (
        (
            "llamadash_switches_total",
            "counter",
            "Switches started (stop, start, load).",
            stats.switches,
        ),
        (
            "llamadash_switch_failures_total",
            "counter",
            "Switches that failed (refused before start, crashed, or timed out).",
            stats.failures,
        ),
        (
            "llamadash_switches_superseded_total",
            "counter",
            "Queued switch requests replaced by a newer request before they ran.",
            stats.superseded,
        ),
    ):
        lines += _header(name, kind, help_text)
        lines.append(f"{name} {value}")
    lines += histogram(
        "llamadash_switch_duration_seconds",
        "Seconds from a switch request starting to the server being ready.",
        stats.durations,
    )
    lines += _header("llamadash_state", "gauge", "1 for the state the server is in, else 0.")
    for state in State:
        lines.append(f'llamadash_state{{state="{state.value}"}} {int(status.state == state)}')
    lines += _header(
        "llamadash_info", "gauge", "The profile the server runs or loads ('' when none)."
    )
    profile, name = status.profile_id or "", status.profile_name
    lines.append(
        f'llamadash_info{{profile="{escape_label(profile)}",name="{escape_label(name)}",'
        f'runtime="{escape_label(status.runtime)}"}} 1'
    )
    lines += _header(
        "llamadash_server_uptime_seconds", "gauge", "Seconds llama-server has been running."
    )
    lines.append(f"llamadash_server_uptime_seconds {_number(status.uptime or 0.0)}")
    lines += _header(
        "llamadash_instances", "gauge", "Instances of the pool in each state (GET /instances)."
    )
    for state in State:
        count = sum(1 for info in status.instances if info.state == state)
        lines.append(f'llamadash_instances{{state="{state.value}"}} {count}')
    lines += proxy_lines(ctx)
    lines += _header("llamadash_api_event_clients", "gauge", "Open GET /events streams.")
    lines.append(f"llamadash_api_event_clients {ctx.event_clients}")
    lines += _header("llamadash_api_uptime_seconds", "gauge", "Seconds the API has been up.")
    lines.append(f"llamadash_api_uptime_seconds {_number(ctx.uptime)}")
    return "\n".join(lines) + "\n"


async def metrics(request: Request) -> Response:
    """``GET /metrics``."""
    ctx = context(request)
    status = await ctx.status()
    return Response(render(ctx, status), media_type=CONTENT_TYPE)
