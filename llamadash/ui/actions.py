"""The dashboard's keys: the actions its bindings name (LlamaDash.BINDINGS)."""

from __future__ import annotations

from textual import work

from llamadash.core.events import BUSY_STATES, State
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.screens.help import HelpScreen
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.workers import Workers


class KeyActions(Workers):
    """What each key does; a switch is asked of the engine by a worker (ui/workers.py)."""

    def action_pick(self) -> None:
        """Open the model picker."""
        current = self.switcher.last_event.profile_id
        note = ""
        if self.switcher.busy:
            # Before its first event (preflight) or for a stop, the event names no profile yet.
            event = self.switcher.last_event
            if event.state in BUSY_STATES and event.profile_name:
                doing = f"Switching to {event.profile_name} now"
            elif event.state == State.STOPPING:
                doing = "Stopping the server now"
            else:
                doing = "A switch is starting"
            note = f"{doing}: your choice runs next (the latest choice wins)."
        picker = ModelPicker(self.engine.profiles, current, self.engine.settings.models_dir, note)
        self.push_screen(picker, self._picked)

    def _picked(self, profile_id: str | None) -> None:
        if profile_id is None:
            return
        profile = self.switcher.profiles.get(profile_id)
        self.notify(f"Switching to {profile.name if profile else profile_id}…")
        self.request_switch(profile_id)

    def action_stop_server(self) -> None:
        """Stop llama-server (the dashboard keeps running)."""
        self.request_switch(None)

    def action_restart(self) -> None:
        """Restart the current profile."""
        current = self.switcher.last_event.profile_id
        if current is None:
            self.notify("nothing to restart: choose a model with m", severity="warning")
            return
        self.request_switch(current, restart=True)

    def action_focus_logs(self) -> None:
        """Focus the log view for scrolling."""
        self.query_one(LogPane).log_view.focus()

    def action_toggle_follow(self) -> None:
        """Follow the log tail, or stop following."""
        self.query_one(LogPane).toggle_follow()  # the pane's title says which

    def action_filter_logs(self) -> None:
        """Open the log filter."""
        self.query_one(LogPane).open_filter()

    def action_help(self) -> None:
        """Show the keys."""
        api = self.api.url if self.api else "off"
        self.push_screen(HelpScreen(api, str(self.engine.log_path)))

    def action_quit_keep(self) -> None:
        """Quit; the server keeps running."""
        event = self.switcher.last_event
        if event.state in (State.READY, State.LOADING, State.STARTING):
            self.quit_message = (
                f"llama-server keeps running ({event.profile_name}) at"
                f" {self.switcher.endpoint}; stop it with: {self.stop_command}"
            )
        self.exit()

    @work(group="switch", exit_on_error=False)
    async def action_quit_stop(self) -> None:
        """Stop the server, then quit."""
        self.notify("stopping llama-server…")
        await self.switcher.request(None)
        self.quit_message = "llama-server stopped."
        self.exit()
