"""Server pane: tokens/s, requests, KV cache and slot activity, from llama-server itself."""

from __future__ import annotations

from textual.content import Content

from llamadash.collectors.server import ServerSnapshot
from llamadash.ui.format import MUTED, NA, OK, WARN, bar, num, row
from llamadash.ui.widgets.rows import RowsPane

_WIDTHS = (9,)
_NO_METRICS = Content.styled("n/a: /metrics is off (add --metrics to the profile)", MUTED)


class ServerPane(RowsPane):
    """Renders ServerSnapshot; degrades to n/a when an endpoint is off."""

    subject = ""
    """The instance shown, named in the title while several run ("" for the only one)."""

    def on_mount(self) -> None:
        self.border_title = "Server"
        self.waiting()

    def waiting(self) -> None:
        """No sample of the instance shown yet."""
        self.set_rows([Content.styled("waiting for the first sample…", MUTED)])

    def set_subject(self, subject: str) -> None:
        """Name the instance shown in the title ("" : just "Server")."""
        title = f"Server · {subject}" if subject else "Server"
        self.subject = subject
        if self.border_title != title:  # assigning the title repaints, even the same one
            self.border_title = title

    def show(self, snap: ServerSnapshot) -> None:
        """Draw ``snap``."""
        if not snap.reachable:
            message = f"llama-server not answering ({snap.error or 'no server'})"
            self.set_rows([Content.styled(message, MUTED)])
            return
        # /metrics lags a running request; /slots does not. Idle, /metrics says 0.0: keep it.
        gen = snap.gen_tps
        if not gen and snap.live_gen_tps is not None:
            gen = snap.live_gen_tps
        metrics_on = snap.requests_processing is not None  # the gauge is always in /metrics
        busy = NA if snap.requests_processing is None else str(snap.requests_processing)
        waiting = NA if snap.requests_deferred is None else str(snap.requests_deferred)
        health = Content.styled(str(snap.health), OK if snap.health == 200 else WARN)
        rows: list[tuple[str, str | Content]] = [
            ("health", health),
            ("generate", num(gen, " t/s")),
            ("prompt", num(snap.prompt_tps, " t/s")),
            ("requests", f"{busy} running, {waiting} waiting" if metrics_on else _NO_METRICS),
            _kv_row(snap),
            ("ctx/slot", NA if snap.n_ctx is None else str(snap.n_ctx)),
            ("model", (snap.model_path or NA).rsplit("/", 1)[-1]),
        ]
        if snap.proxy is not None:  # only once /v1/* requests came for it
            wait = snap.proxy.wait_p50
            shown = NA if wait is None else f"{wait * 1000:.0f} ms" if wait < 1 else f"{wait:.1f} s"
            rows.append(("via /v1", f"{snap.proxy.per_minute} req/min, wait p50 {shown}"))
        self.set_rows([*(row(cells, _WIDTHS) for cells in rows), _slots(snap)])


def _kv_row(snap: ServerSnapshot) -> tuple[str, Content]:
    """KV cache use from /metrics; else the context the running requests fill (from /slots).

    Current llama-server builds no longer export the kv_cache_* metrics, so without this the
    row read "n/a" for good.
    """
    if snap.kv_usage_pct is not None:
        return "kv cache", bar(snap.kv_usage_pct / 100, 14) + f" {snap.kv_usage_pct:.0f}%"
    busy = [s for s in snap.slots or () if s.is_processing and s.n_ctx]
    if not busy:
        state = "idle" if snap.slots else "n/a"
        return "ctx used", bar(0.0 if snap.slots else None, 14) + f" {state}"
    fill, slot = max(
        (((s.n_prompt_tokens or 0) + (s.n_decoded or 0)) / (s.n_ctx or 1), s.id) for s in busy
    )
    return "ctx used", bar(fill, 14) + f" {fill:.0%} (slot {slot})"


def _slots(snap: ServerSnapshot) -> Content:
    if snap.slots is None:
        return Content.styled("slots: n/a (/slots off)", MUTED)
    parts: list[Content | str] = ["slots: "]
    for slot in snap.slots:
        if slot.is_processing:
            parts.append(Content.styled(f"[{slot.id}:{slot.n_decoded or 0}t] ", f"bold {OK}"))
        else:
            parts.append(Content.styled(f"[{slot.id}:idle] ", MUTED))
    return Content.assemble(*parts)
