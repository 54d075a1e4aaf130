"""The dashboard attached to a running llamadash: the same panes, fed only by its API.

Everything comes from the owner's ``GET /dashboard`` stream (llamadash/remote/client.py):
its collectors' snapshots, the followed instance's log with a cursor, and every instance's
events. The keys act through the owner's API, so the owner's queue and rules apply as for
any client. A lost connection shows "disconnected, retrying" in the header and the stream is
opened again (the log resumes at its cursor); quitting never stops a server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.worker import Worker, WorkerState

from llamadash.core.events import Result, State, SwitchEvent
from llamadash.core.profiles import Profile, ProfileSet
from llamadash.remote.client import OwnerApi, OwnerError
from llamadash.remote.shapes import DashboardHello, DashboardLogs, DashboardSample
from llamadash.ui.attached_messages import OwnerLost, OwnerSaid
from llamadash.ui.modals.picker import ModelPicker, Pick
from llamadash.ui.pane_keys import INSTANCE_KEYS, LOG_KEYS, SERVER_KEYS, SharedKeys
from llamadash.ui.screens.help import HelpScreen
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.footer import KeysFooter
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.header import StatusLine
from llamadash.ui.widgets.instances import InstancesPane
from llamadash.ui.widgets.logs import MAX_LINES, LogPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane

# Retry the owner after 0.5 s, doubling up to this (a restarting owner is back in seconds).
RETRY_MAX_SECONDS = 4.0
# Refused for good: a wrong token or an API without dashboards; retrying would not help.
FATAL_STATUSES = (400, 401, 403, 404, 421, 503)


class AttachedDash(SharedKeys, App[None]):
    """The panes of :class:`~llamadash.ui.app.LlamaDash`, drawn from another llamadash."""

    CSS_PATH = "app.tcss"
    TITLE = "llamadash (attached)"
    BINDINGS = [
        *SERVER_KEYS,
        *LOG_KEYS,
        Binding("q", "detach", "Detach"),
        Binding("Q", "detach", "Detach", show=False, key_display="Q"),
        *INSTANCE_KEYS,
    ]

    def __init__(self, api: OwnerApi) -> None:
        super().__init__()
        self.api = api
        self.hello: DashboardHello | None = None
        self.followed: str | None = None  # the instance id the lower panes show (None: foreground)
        self.sample: DashboardSample | None = None
        self.lines: deque[str] = deque(maxlen=MAX_LINES)
        self.quit_message = ""
        self.failure = ""  # refused for good (a wrong token): why, printed after exit

    def compose(self) -> ComposeResult:
        yield StatusLine("…", self.api.url, id="status")
        with Grid(id="panes"):
            yield GpuPane(id="gpu", classes="pane")
            yield SystemPane(id="system", classes="pane")
            yield ContainerPane(id="container", classes="pane")
            yield ServerPane(id="server", classes="pane")
        yield InstancesPane(id="instances", classes="pane")
        yield LogPane(lambda: tuple(self.lines), id="logs", classes="pane")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.follow_owner()

    # --- the stream -----------------------------------------------------------------------
    @work(exclusive=True, group="owner", exit_on_error=False)
    async def follow_owner(self) -> None:
        """Read the owner's stream; on a loss say so, and open it again until it answers."""
        pause = 0.5
        while True:
            try:
                async for message in self.api.stream(self.followed):
                    self.post_message(OwnerSaid(message))
                    pause = 0.5
            except OwnerError as exc:
                if exc.status in FATAL_STATUSES or self.hello is None:
                    # Refused for good, or nothing answered at all: a wrong address or no
                    # owner yet; retrying only makes sense for an owner that was there.
                    self.failure = f"error: {exc}"
                    if self.hello is None and exc.status is None:
                        self.failure += " (is `llamadash serve` running there?)"
                    self.exit(return_code=2)
                    return
                self.post_message(OwnerLost(str(exc)))
            await asyncio.sleep(pause)
            pause = min(RETRY_MAX_SECONDS, pause * 2)

    def on_owner_lost(self, message: OwnerLost) -> None:
        self.query_one(StatusLine).set_lost(message.reason)

    def on_owner_said(self, message: OwnerSaid) -> None:
        said = message.message
        if isinstance(said, DashboardSample):
            self._show_sample(said)
        elif isinstance(said, DashboardLogs):
            self._show_logs(said)
        elif isinstance(said, SwitchEvent):
            self._show_event(said)
        else:
            self._show_hello(said)

    def _show_hello(self, hello: DashboardHello) -> None:
        header = self.query_one(StatusLine)
        header.endpoint = hello.endpoint
        header.set_lost("")
        self.hello = hello

    def _show_sample(self, sample: DashboardSample) -> None:
        self.sample = sample
        self.query_one(StatusLine).apply_status(sample.status)
        self.query_one(GpuPane).show(sample.gpu)
        self.query_one(SystemPane).show(sample.system)
        if sample.server is not None:
            self.query_one(ServerPane).show(sample.server)
        if sample.container is not None:
            self.query_one(ContainerPane).show(sample.container)
        else:
            self.query_one(ContainerPane).show_process(sample.followed or sample.status)
        pane = self.query_one(InstancesPane)
        shown = bool(sample.hosts) or any(not info.foreground for info in sample.instances)
        pane.set_shown(shown)
        if shown:
            followed = next((i for i in sample.instances if i.id == self.followed), None)
            foreground = next((i for i in sample.instances if i.foreground), None)
            chosen = followed or foreground
            pane.select(chosen.port if chosen else None)
            pane.show(sample.instances, sample.budget, sample.hosts)
            for port, rate in sample.rates.items():
                pane.set_rate(int(port), rate)
        elif self.followed is not None:
            self._follow(None)  # the followed instance stopped: back to the foreground

    def _show_logs(self, logs: DashboardLogs) -> None:
        pane = self.query_one(LogPane)
        if logs.reset:
            self.lines.clear()
            self.lines.extend(logs.lines)
            pane.reload(self.lines)
        else:
            self.lines.extend(logs.lines)
            pane.add_lines(logs.lines)

    def _show_event(self, event: SwitchEvent) -> None:
        if event.foreground:
            self.query_one(StatusLine).apply_event(event)
        if event.instance == self.followed or (event.foreground and self.followed is None):
            if event.state == State.FAILED:
                self.query_one(LogPane).show_error()
            elif event.state in (State.STOPPING, State.STARTING):
                self.query_one(LogPane).resume_after_error()
        if event.state == State.STARTING and event.warning:
            self.notify(event.warning, title="Note", severity="warning")

    def _follow(self, instance_id: str | None) -> None:
        """Show ``instance_id``'s server, container and log (None: the foreground's)."""
        if instance_id == self.followed:
            return
        self.followed = instance_id
        self.lines.clear()
        self.query_one(LogPane).reload(())
        self.query_one(LogPane).set_subject(instance_id or "")
        self.follow_owner()  # exclusive: the stream is opened again for the new instance

    # --- keys -----------------------------------------------------------------------------
    @work(group="picker", exit_on_error=False)
    async def action_pick(self) -> None:
        """Open the picker over the owner's profiles."""
        try:
            current, models = await self.api.models()
        except OwnerError as exc:
            self.notify(str(exc), title="No profiles", severity="error", timeout=10)
            return
        profiles = ProfileSet(
            Path(self.api.url),
            tuple(
                Profile(m.id, m.name, m.model, ctx=m.ctx, speed=m.speed, bench=m.bench)
                for m in models
            ),
        )
        beside = frozenset(
            i.id for i in (self.sample.instances if self.sample else ()) if not i.foreground
        )
        several = self.hello is not None and self.hello.max_instances > 1
        picker = ModelPicker(profiles, current, None, beside=beside, alongside=several)
        pick = await self.push_screen_wait(picker)
        if pick is not None:
            self.act(pick)

    @work(group="act", exit_on_error=False)
    async def act(self, pick: Pick) -> None:
        """Ask the owner to switch to (or start alongside) what the picker returned."""
        if pick.alongside:
            await self._ask("Not started", self.api.start(pick.profile_id))
        else:
            await self._ask("Not switched", self.api.switch(pick.profile_id))

    @work(group="act", exit_on_error=False)
    async def action_stop_server(self) -> None:
        """Stop the followed instance (the foreground one unless another is selected)."""
        await self._ask("Not stopped", self.api.stop(self.followed))

    @work(group="act", exit_on_error=False)
    async def action_restart(self) -> None:
        """Restart the followed instance with its profile as models.conf has it now."""
        if self.followed is not None:
            await self._ask("Not restarted", self.api.start(self.followed, restart=True))
            return
        current = self.sample.status.profile_id if self.sample else None
        if current is None:
            self.notify("nothing runs to restart: choose a model with m", severity="warning")
            return
        await self._ask("Not restarted", self.api.switch(current, restart=True))

    async def _ask(self, title: str, call: Awaitable[dict[str, Any]]) -> None:
        """Run one action; its outcome as a toast (a refusal or failure says why)."""
        try:
            answer = await call
        except OwnerError as exc:
            self.notify(str(exc), title=title, severity="error", timeout=15)
            return
        outcome = answer.get("outcome")
        result = outcome.get("result") if isinstance(outcome, dict) else None
        message = str(answer.get("message", ""))
        if result == Result.FAILED or result is None:
            self.notify(message or str(answer), title=title, severity="error", timeout=15)
        elif result == Result.SUPERSEDED:
            self.notify(message, title="Superseded", severity="warning")

    def action_help(self) -> None:
        """The keys, the owner's API and its log file."""
        self.push_screen(HelpScreen(self.api.url, self.hello.log_path if self.hello else ""))

    def action_focus_instances(self) -> None:
        """Focus the instances list."""
        self.query_one(InstancesPane).focus()

    def action_select_instance(self, number: int) -> None:
        """Follow the instance of row ``number`` in the list (1–9)."""
        if self.sample is None or not 1 <= number <= len(self.sample.instances):
            return
        info = self.sample.instances[number - 1]
        self._follow(None if info.foreground else info.id)

    def on_instances_pane_selected(self, message: InstancesPane.Selected) -> None:
        for info in self.sample.instances if self.sample else ():
            if info.port == message.port:
                self._follow(None if info.foreground else info.id)
                return

    def action_detach(self) -> None:
        """Quit this dashboard; the owner and its servers run on."""
        self.quit_message = f"detached from {self.api.url}; the servers run on"
        self.exit()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """One funnel for every worker error: a visible notice, never a crash."""
        if event.state == WorkerState.ERROR:
            self.notify(f"{event.worker.group}: {event.worker.error}", severity="error")
