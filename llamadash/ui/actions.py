"""The dashboard's keys: the actions its bindings name (LlamaDash.BINDINGS)."""

from __future__ import annotations

from textual import work

from llamadash.core.bench_history import BenchHistory
from llamadash.core.events import BUSY_STATES, State
from llamadash.core.profiles import Profile
from llamadash.core.runtime.builds import running_binary
from llamadash.ui.modals.bench_run import BenchRun
from llamadash.ui.modals.picker import ModelPicker, Pick
from llamadash.ui.modals.pull import PullModal, needs_pull
from llamadash.ui.modals.try_prompt import TryPrompt
from llamadash.ui.screens.help import HelpScreen
from llamadash.ui.selection import Selection


class KeyActions(Selection):
    """What each key does; the pool is asked by a worker (ui/workers.py).

    ``s`` and ``r`` act on the instance selected in the list (the foreground one unless
    another is selected); ``m``, ``q`` and ``Q`` on the pool as a whole.
    """

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
        beside = frozenset(
            i.profile_id for i in self.engine.pool.instances()[1:] if i.profile_id is not None
        )
        picker = ModelPicker(
            self.engine.profiles,
            current,
            self.engine.settings.models_dir,
            note,
            beside=beside,
            alongside=self.engine.settings.max_instances > 1,
            measured=self._measured_speeds(),
        )
        self.push_screen(picker, self._picked)

    def _measured_speeds(self) -> dict[str, float]:
        """Profile id → the generation speed its last ``llamadash bench`` measured.

        Read when the picker opens, like the model files it checks: a small local file.
        """
        history = BenchHistory.in_state_dir(self.engine.settings.state_dir)
        return {result.profile: result.gen.median for result in history.results()}

    def _ready_profile(self, doing: str) -> Profile | None:
        """The profile of the selected instance when its server is ready; else says so."""
        followed = self.followed
        profile = self.engine.profiles.get(followed.profile_id or "")
        if followed.last_event.state != State.READY or profile is None:
            self.notify(f"nothing ready to {doing}: choose a model with m", severity="warning")
            return None
        return profile

    def action_try_prompt(self) -> None:
        """Open the try-prompt modal on the selected instance's server, when it is ready."""
        if (profile := self._ready_profile("try")) is None:
            return
        endpoint = self.followed.endpoint
        model = profile.model_path(self.engine.settings.models_dir)
        title = f"Try {profile.name} ({endpoint})"
        self.push_screen(TryPrompt(endpoint, title, model, profile.server_args(str(model))))

    def action_bench(self) -> None:
        """Bench the selected instance's server as it runs; the result joins the history."""
        if (profile := self._ready_profile("bench")) is None:
            return
        settings = self.engine.settings
        history = BenchHistory.in_state_dir(settings.state_dir)
        followed = self.followed
        obs = followed.last_observation
        binary = running_binary(followed.runtime.name, obs.pid if obs is not None else None)
        endpoint = followed.endpoint
        self.push_screen(BenchRun(profile, settings.models_dir, endpoint, history, binary))

    def _picked(self, pick: Pick | None) -> None:
        if pick is None:
            return
        profile = self.switcher.profiles.get(pick.profile_id)
        if needs_pull(profile, self.engine.settings.models_dir):
            assert profile is not None
            # Its model comes first: the switch runs once the pull has put the file in place.
            self.push_screen(
                PullModal(profile, self.engine.settings.models_dir),
                lambda pulled: self._picked(pick) if pulled else None,
            )
            return
        name = profile.name if profile else pick.profile_id
        if pick.alongside:
            self.notify(f"Starting {name} alongside…")
            self.start_alongside(pick.profile_id)
        else:
            self.notify(f"Switching to {name}…")
            self.request_switch(pick.profile_id)

    def _beside(self) -> str | None:
        """The profile of the selected instance when it is not the foreground one."""
        return None if self.followed is self.switcher else self.followed.profile_id

    def action_stop_server(self) -> None:
        """Stop the selected llama-server (the dashboard keeps running)."""
        if (beside := self._beside()) is not None:
            self.notify(f"Stopping {beside}…")
            self.stop_instance(beside)
        else:
            self.request_switch(None)

    def action_restart(self) -> None:
        """Restart the selected instance's profile."""
        if (beside := self._beside()) is not None:
            self.stop_instance(beside, restart=True)
            return
        current = self.switcher.last_event.profile_id
        if current is None:
            self.notify("nothing to restart: choose a model with m", severity="warning")
            return
        self.request_switch(current, restart=True)

    def action_help(self) -> None:
        """Show the keys."""
        api = self.api.url if self.api else "off"
        self.push_screen(HelpScreen(api, str(self.engine.log_path)))

    def action_quit_keep(self) -> None:
        """Quit; the servers keep running."""
        event = self.switcher.last_event
        others = [i for i in self.engine.pool.instances()[1:] if i.running]
        more = f" and {len(others)} more beside it" if others else ""
        if event.state in (State.READY, State.LOADING, State.STARTING):
            self.quit_message = (
                f"llama-server keeps running ({event.profile_name}) at"
                f" {self.switcher.endpoint}{more}; stop it with: {self.stop_command}"
            )
        elif others:
            names = ", ".join(i.profile_id or "?" for i in others)
            self.quit_message = (
                f"llama-server keeps running ({names}); stop with: {self.stop_command}"
            )
        self.exit()

    @work(group="switch", exit_on_error=False)
    async def action_quit_stop(self) -> None:
        """Stop every server of the pool, then quit."""
        self.notify("stopping llama-server…")
        await self.engine.pool.stop()
        self.quit_message = "llama-server stopped."
        self.exit()
