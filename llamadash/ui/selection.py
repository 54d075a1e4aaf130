"""Which instance the server, container and log panes follow: the one selected in the list.

The list (widgets/instances.py) is shown while something runs beside the foreground
instance; with one instance the dashboard looks as it did before the pool. Selecting a row
(↑/↓ in the focused list, a click, or 1–9) points the collectors at that instance
(collectors/bundle.py) and the log pane at its LogHub; the header stays the foreground's.
"""

from __future__ import annotations

from llamadash.core.events import State
from llamadash.core.instance import Instance
from llamadash.ui.messages import PoolDescribed
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.instances import InstancesPane
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.workers import Workers


class Selection(Workers):
    """Follow one instance; keep the list in step with the pool."""

    def followed_lines(self) -> tuple[str, ...]:
        """The followed instance's log buffer (the log pane reloads from it)."""
        return self.followed.logs.snapshot()

    def follow(self, instance: Instance) -> None:
        """Show ``instance`` in the server, container and log panes (no I/O here)."""
        self.query_one(InstancesPane).select(instance.settings.port)
        if instance is self.followed:
            return
        previous, self.followed = self.followed, instance
        if self.collectors is not None:
            self.collectors.follow(instance)
        for pane in (ServerPane, ContainerPane):
            self._last_shown.pop(pane, None)
            self._pending.pop(pane, None)
        self.query_one(ServerPane).waiting()
        self.query_one(ContainerPane).waiting()
        self._container_seen = None
        self._server_nap.wake()  # the workers sample the new instance now, not in a second
        self._container_wake.set()
        self._follow_logs(previous, instance)
        self._label_panes()
        if self.collectors is None or self.collectors.container is None:
            self.refresh_status()  # the process pane shows the followed instance's status

    def _follow_logs(self, previous: Instance, instance: Instance) -> None:
        previous.logs.on_new(None)
        instance.logs.on_new(self._log_wake)
        self.log_seq, lines = instance.logs.since(0)  # the whole buffer, and where it ends
        pane = self.query_one(LogPane)
        pane.reload(lines)
        pane.resume_after_error()
        if instance.last_event.state == State.FAILED:
            pane.show_error()

    def _label_panes(self) -> None:
        """Name the followed instance in the panes' titles while the list is shown."""
        subject = ""
        if self._pool_shown:
            instance = self.followed
            subject = f"{instance.profile_id or 'idle'} :{instance.settings.port}"
        self.query_one(ServerPane).set_subject(subject)
        self.query_one(ContainerPane).set_subject(subject)
        self.query_one(LogPane).set_subject(subject)

    def on_pool_described(self, message: PoolDescribed) -> None:
        if self.closing:
            return
        pane = self.query_one(InstancesPane)
        shown = bool(message.hosts) or any(not info.foreground for info in message.instances)
        if shown != self._pool_shown:
            self._pool_shown = shown
            pane.set_shown(shown)
        pane.select(self.followed.settings.port)
        pane.show(message.instances, message.budget, message.hosts)
        members = self.engine.pool.instances()
        if self.collectors is not None:
            for gone in self.collectors.track(members):
                gone.drop_connections()
        if self.followed not in members or (not shown and self.followed is not self.switcher):
            self.follow(self.switcher)  # the followed instance stopped: back to the foreground
        self._label_panes()

    def on_instances_pane_selected(self, message: InstancesPane.Selected) -> None:
        for instance in self.engine.pool.instances():
            if instance.settings.port == message.port:
                self.follow(instance)
                return

    def action_select_instance(self, number: int) -> None:
        """Follow the instance of row ``number`` in the list (1–9)."""
        if not self._pool_shown:
            return  # one instance: nothing to choose (the keys stay free of surprises)
        if not self.query_one(InstancesPane).pick(number):
            self.notify(f"no instance {number} in the list", severity="warning")

    def action_focus_instances(self) -> None:
        """Focus the instances list (↑/↓ then select)."""
        if self._pool_shown:
            self.query_one(InstancesPane).focus()
