"""Status line: profile, state with elapsed time, endpoint and side-API address."""

from __future__ import annotations

import time

from textual.content import Content
from textual.events import Resize

from llamadash.core.events import State, Status, SwitchEvent
from llamadash.core.reload import settings_note
from llamadash.ui.format import ACCENT, BAD, MUTED, OK, WARN, duration
from llamadash.ui.widgets.rows import RowsPane

_STYLE = {
    State.READY: f"bold {OK}",
    State.FAILED: f"bold {BAD}",
    State.IDLE: MUTED,
    State.STOPPING: f"bold {WARN}",
    State.STARTING: f"bold {WARN}",
    State.LOADING: f"bold {WARN}",
}


_STEADY = (State.READY, State.IDLE, State.FAILED)


def describe(event: SwitchEvent) -> str:
    """The words for an event: Stopping…, Starting X…, Loading… stage pct ETA, Ready: X.

    A switch refused before anything stopped keeps the state and adds why.
    """
    text = _state_words(event)
    if event.error and event.state != State.FAILED:
        return f"{text} · {event.message or event.error}"
    return text


def _state_words(event: SwitchEvent) -> str:
    name = event.profile_name or event.profile_id or ""
    if event.state == State.STOPPING:
        return "Stopping…"
    if event.state == State.STARTING:
        return f"Starting {name}…"
    if event.state == State.LOADING:
        detail = event.progress.describe() if event.progress else ""
        return f"Loading {name}… {detail}".rstrip()
    if event.state == State.READY:
        return f"Ready: {name}" if name else "Ready"
    if event.state == State.FAILED:
        return f"Failed: {event.error or event.message}"
    return "Idle: no model running (press m)"


RESTART_TO_APPLY = "args changed in models.conf: restart to apply (r)"


def config_note(status: Status) -> str:
    """What models.conf asks of the user besides a restart: a fix, a llamadash restart."""
    notes = []
    if status.config_error:
        notes.append(f"config error, previous profiles kept: {status.config_error}")
    if status.settings_changed:
        notes.append(settings_note(status.settings_changed))
    return "; ".join(notes)


class StatusLine(RowsPane):
    """One line at the top, redrawn on every engine event and on the app's paint tick."""

    def __init__(self, endpoint: str, api: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.text = "Idle: no model running (press m)"
        self.endpoint = endpoint
        self.api = api
        self.state = State.IDLE
        self.since = time.time()
        self.note = ""
        self.queued: str | None = None
        self.config = ""
        self.restart_to_apply = False
        self.lost = ""  # attached: why the owner's API is not answering ("" while it does)
        self.lost_since = 0.0

    def on_mount(self) -> None:
        self.refresh_line()

    def apply_event(self, event: SwitchEvent) -> None:
        """Show an engine event at once."""
        if event.state != self.state:
            self.since = event.at
        if event.state in (State.STOPPING, State.STARTING):
            self.restart_to_apply = False  # the next server starts from models.conf as it is
        self.state = event.state
        self.text = describe(event)
        self.refresh_line()

    def apply_status(self, status: Status) -> None:
        """Correct the line from observation (e.g. a server killed outside llamadash)."""
        self.note = status.note
        self.queued = status.queued
        self.config = config_note(status)
        self.restart_to_apply = status.restart_to_apply
        if status.state != self.state and status.state not in (State.LOADING, State.STARTING):
            self.state = status.state
            self.since = status.since
            name = status.profile_name or status.profile_id or ""
            error = status.last_error or status.note
            self.text = {
                State.READY: f"Ready: {name}",
                State.FAILED: f"Failed: {error}",
                State.IDLE: "Idle: no model running (press m)",
            }.get(status.state, self.text)
        self.refresh_line()

    def set_lost(self, reason: str) -> None:
        """Attached: the owner's API stopped answering (``reason``), or answers again ("")."""
        if reason and not self.lost:
            self.lost_since = time.time()
        self.lost = reason
        self.refresh_line()

    def on_resize(self, event: Resize) -> None:
        """A new width: the endpoints may need the compact form."""
        super().on_resize(event)
        self.refresh_line()

    def refresh_line(self) -> None:
        """Redraw with the elapsed time; the endpoints always fit, the state gives way."""
        state = self._state_parts()
        endpoints = f"   server {self.endpoint}   api {self.api}"
        width = self.size.width
        line = Content.assemble(("llamadash ", "bold"), *state, (endpoints, ACCENT))
        if width and line.cell_length > width:
            # A narrow terminal (80 columns): no name, no URL schemes, and the state cut
            # with "…" to leave room for both addresses, which a user needs to connect.
            endpoints = f"  server {_bare(self.endpoint)}  api {_bare(self.api)}"
            room = max(0, width - len(endpoints))
            left = Content.assemble(*state).truncate(room, ellipsis=True, pad=True)
            line = Content.assemble(left, (endpoints, ACCENT))
        # Repainted only when the text or colours changed (RowsPane).
        self.set_rows([line])

    def _state_parts(self) -> list[tuple[str, str]]:
        if self.lost:  # what the owner said last is no observation any more
            since = duration(time.time() - self.lost_since)
            return [("● ", f"bold {BAD}"), (f"disconnected, retrying ({self.lost})", BAD),
                    (f"  {since}", MUTED)]  # fmt: skip
        parts: list[tuple[str, str]] = [
            ("● ", _STYLE[self.state]),
            (self.text, _STYLE[self.state]),
            # Seconds while something happens; minutes once it is steady.
            (f"  {duration(time.time() - self.since, coarse=self.state in _STEADY)}", MUTED),
        ]
        if self.queued:
            parts.append((f"  (next: {self.queued})", WARN))
        if self.note:
            parts.append((f"  [{self.note}]", WARN))
        if self.restart_to_apply:
            parts.append((f"  [{RESTART_TO_APPLY}]", WARN))
        if self.config:
            parts.append((f"  [{self.config}]", BAD if "config error" in self.config else WARN))
        return parts


def _bare(url: str) -> str:
    """``127.0.0.1:8080`` for ``http://127.0.0.1:8080`` (and "off" as it is)."""
    return url.split("://", 1)[-1]
