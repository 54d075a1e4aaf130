"""One switch, step by step: preflight → stop → start → follow logs → /health → ready.

A check that fails before anything is stopped (preflight) leaves the running state as it is
and is only the request's outcome; a failure after the stop is the server's state.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace

from llamadash.core.engine_state import TAIL_LINES, EngineState, SwitchError
from llamadash.core.events import Result, State, SwitchOutcome
from llamadash.core.flags import describe_unknown, unknown_flags
from llamadash.core.kv_cache import cache_key, reuse_blocker
from llamadash.core.memory_book import model_identity
from llamadash.core.net import health, port_free, server_busy
from llamadash.core.owned import SLOT_SAVE_FLAG
from llamadash.core.profiles import Profile
from llamadash.core.progress import ProgressTracker
from llamadash.core.runtime.base import LaunchSpec, Observation, RuntimeFailure
from llamadash.core.runtime.signals import wait_until

HEALTH_INTERVAL = 0.05
FIRST_HEALTH_INTERVAL = 0.01  # small models are up in ~20 ms: look often at first, then 50 ms
PORT_FREE_TIMEOUT = 5.0


class SwitchProcedure(EngineState):
    """The steps of one switch or stop; the queue (core/instance.py) runs one at a time."""

    def launch_spec(self, profile: Profile) -> LaunchSpec:
        """The LaunchSpec for ``profile`` under the current settings."""
        s = self.settings
        kv = self.kv.folder if profile.keep_cache else None
        return LaunchSpec(profile, s.models_dir, s.port, s.image, s.stop_grace, kv)

    async def preflight(self, profile: Profile) -> tuple[LaunchSpec, str]:
        """Check a profile can start, before anything is stopped.

        Returns:
            The spec, and a warning for the user ('' if none): e.g. the flags could not be
            checked against this llama-server build, and why.

        Raises:
            SwitchError: missing model file, a flag the server rejects, an unwritable value,
                the port held by another server.
        """
        spec = self.launch_spec(profile)
        if not spec.model_path.is_file():
            fetch = f"; get it with: llamadash pull {profile.id}" if profile.hf else ""
            raise SwitchError(
                f"model file not found: {spec.model_path} (profile [{profile.id}] at"
                f" {profile.source}; models_dir = {spec.models_dir}){fetch}"
            )
        try:
            # command() may run `docker compose config` once: a thread, not the event loop.
            args = await asyncio.to_thread(self.runtime.command, spec)
            if hasattr(self.runtime, "env_values"):
                self.runtime.env_values(spec)
        except (RuntimeFailure, ValueError) as exc:
            raise SwitchError(str(exc)) from None
        await self._check_port(spec)
        return spec, await self._check_flags(profile, spec, args)

    async def _check_flags(self, profile: Profile, spec: LaunchSpec, args: tuple[str, ...]) -> str:
        source = await asyncio.to_thread(self.runtime.help_source, spec)
        if isinstance(source, str):
            return f"flags not checked: {source}"
        known = await asyncio.to_thread(self.flag_cache.known_flags, *source)
        if not known:
            return "flags not checked: llama-server --help gave no flags"
        if problems := unknown_flags(args, known):
            raise SwitchError(
                f"profile [{profile.id}] ({profile.source}): " + describe_unknown(problems)
            )
        return ""

    async def _check_port(self, spec: LaunchSpec) -> None:
        """The port must be free, or held by the server this switch stops."""
        obs = await self.observe(max_age=0.25)  # the request's own check has just looked
        if obs.running and _port_of(obs.args) == spec.port:
            return
        if not await asyncio.to_thread(port_free, spec.port):
            raise SwitchError(
                f"port {spec.port} is already in use on 127.0.0.1 by another server; stop it"
                " or set port in models.conf (nothing was stopped)"
            )

    async def _switch(self, profile: Profile) -> SwitchOutcome:
        began = time.monotonic()
        self.stats.switches += 1  # counted before preflight, so failures <= switches
        try:
            spec, warning = await self.preflight(profile)
        except SwitchError as exc:
            return self._refuse(profile, str(exc), began)
        # The preflight's port check has just looked: no second look for this.
        if (await self.observe(max_age=1.0)).running:
            self._emit(State.STOPPING, profile, message="stopping the current server")
        await self._stop_runtime()
        # After the old server's last lines: the separator marks where the new one begins.
        self.logs.separator(f"switching to {profile.name}")
        free = await asyncio.to_thread(
            wait_until, lambda: port_free(spec.port), PORT_FREE_TIMEOUT, 0.05
        )
        if not free:
            return self._fail(
                profile,
                f"port {spec.port} is still in use by another process; free it or set port in"
                " models.conf",
                began=began,
            )
        self._emit(State.STARTING, profile, message=f"starting {profile.name}", warning=warning)
        try:
            obs = await asyncio.to_thread(self.runtime.start, spec)
        except RuntimeFailure as exc:
            return self._fail(profile, str(exc), began=began)
        self.remember(obs)
        self.server_starts += 1
        tracker = ProgressTracker(self.history.get(profile.id))
        self.follower.follow(obs.ident, tracker)
        return await self._await_ready(profile, obs, tracker, began, warning)

    async def _await_ready(
        self,
        profile: Profile,
        obs: Observation,
        tracker: ProgressTracker,
        began: float,
        warning: str,
    ) -> SwitchOutcome:
        load_began = time.monotonic()
        deadline = load_began + profile.timeout
        self._emit(State.LOADING, profile, progress=tracker.progress(0.0), warning=warning)
        last_emit, last_observe = 0.0, load_began
        interval = FIRST_HEALTH_INTERVAL
        while True:
            now = time.monotonic()
            if await health(self._http) == 200:
                break
            if not self.follower.active or now - last_observe > 1.0:
                last_observe = now
                current = await self.observe(max_age=0)
                if current.ident != obs.ident or not current.running:
                    await self.follower.stop()
                    code = current.exit_code
                    return self._fail(
                        profile,
                        f"llama-server exited with code {code} while loading",
                        exit_code=code,
                        began=began,
                        ident=obs.ident,
                    )
            if now > deadline:
                await self._stop_runtime()
                return self._fail(
                    profile,
                    f"not healthy after {profile.timeout:.0f}s (timeout)",
                    began=began,
                    ident=obs.ident,
                )
            if now - last_emit >= 0.25:
                last_emit = now
                progress = tracker.progress(now - load_began)
                self._emit(State.LOADING, profile, progress=progress, warning=warning)
            await asyncio.sleep(interval)
            interval = min(HEALTH_INTERVAL, interval * 1.5)
        load_seconds = time.monotonic() - load_began
        restored = await self._restore_cache(profile, obs)
        total = time.monotonic() - began
        self.history.record(profile.id, load_seconds)
        self.stats.durations.observe(total)
        message = f"ready in {total:.2f}s" + (
            f" · cache restored: {restored:,} tokens" if restored else ""
        )
        self._emit(State.READY, profile, message=message, warning=warning, cache_restored=restored)
        return SwitchOutcome(Result.READY, profile.id, message, total)

    async def _stop_server(self) -> SwitchOutcome:
        began = time.monotonic()
        self._emit(State.STOPPING, None, message="stopping the server")
        await self._stop_runtime()
        self._emit(State.IDLE, None, message="stopped")
        return SwitchOutcome(Result.STOPPED, None, "stopped", time.monotonic() - began)

    async def _stop_runtime(self) -> None:
        """Stop the server the way its state needs, then drain its log follower.

        Our own idle keep-alive connections are closed first: with one open, an idle
        llama-server takes ~0.2 s to exit instead of ~0.1 s. Only a server generating (or
        one whose /slots does not say) gets the early second SIGTERM.
        """
        busy = await server_busy(self._http)
        if busy is False:  # a busy server is stopped within stop_grace, never saved first
            await self._save_cache()
        self.close_connections()
        grace = self.settings.stop_grace
        self.remember(await asyncio.to_thread(self.runtime.stop, grace, busy is not False))
        await self.follower.stop()

    def _cache_key(self, obs: Observation) -> tuple[Profile, str] | None:
        """The profile and cache key of a server that keeps its cache, else None."""
        profile = self.profiles.get(obs.profile_id) if obs.profile_id else None
        if profile is None or SLOT_SAVE_FLAG[0] not in obs.args:
            return None
        identity = model_identity(profile.model_path(self.settings.models_dir))
        return profile, cache_key(obs.args, identity)

    async def _save_cache(self) -> None:
        """Save the running server's slots (an idle one) before it is stopped."""
        obs = self._obs_last
        found = self._cache_key(obs) if obs is not None and obs.running else None
        if found is None:
            return
        profile, key = found
        if reuse_blocker(profile.model_path(self.settings.models_dir), obs.args):  # type: ignore[union-attr]
            return
        result = await self.kv.save(self.settings.port, profile.id, key)
        if result.tokens:
            self.logs.separator(f"prompt cache saved: {result.tokens:,} tokens")

    async def _restore_cache(self, profile: Profile, obs: Observation) -> int:
        """Restore what the same profile and arguments saved; the tokens restored."""
        found = self._cache_key(obs) if profile.keep_cache else None
        if found is None:
            return 0
        model = profile.model_path(self.settings.models_dir)
        if why := await asyncio.to_thread(reuse_blocker, model, obs.args):
            self.logs.separator(f"prompt cache not kept: {why}")
            return 0
        result = await self.kv.restore(self.settings.port, profile.id, found[1])
        if result.skipped and result.skipped != "nothing saved for these arguments":
            self.logs.separator(f"prompt cache not restored: {result.skipped}")
        return result.tokens

    def _refuse(self, profile: Profile, reason: str, began: float) -> SwitchOutcome:
        """A switch refused before anything stopped: the state stays, the event says why."""
        self.stats.failures += 1
        self._publish(
            replace(
                self._last,
                at=time.time(),
                message=f"switch to {profile.name} refused: {reason}",
                error=reason,
            )
        )
        return SwitchOutcome(
            Result.FAILED, profile.id, reason, time.monotonic() - began, restarted=False
        )

    def _fail(
        self,
        profile: Profile | None,
        reason: str,
        *,
        exit_code: int | None = None,
        began: float | None = None,
        ident: str = "",
    ) -> SwitchOutcome:
        tail: tuple[str, ...] = ()
        if ident:
            tail = tuple(self.runtime.log_tail(ident, TAIL_LINES)) or tuple(
                self.logs.tail(TAIL_LINES)
            )
        self.stats.failures += 1
        self._emit(
            State.FAILED, profile, error=reason, exit_code=exit_code, log_tail=tail, message=reason
        )
        seconds = time.monotonic() - began if began else 0.0
        return SwitchOutcome(
            Result.FAILED, profile.id if profile else None, reason, seconds, log_tail=tail
        )


def _port_of(args: tuple[str, ...]) -> int | None:
    """The ``--port`` a running server was given, if any."""
    for flag, value in itertools.pairwise(args):
        if flag == "--port" and value.isdigit():
            return int(value)
    return None
