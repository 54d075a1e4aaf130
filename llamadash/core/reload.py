"""models.conf, reloaded while llamadash runs: a stat poll, a re-parse on change.

A bad edit keeps the last good profiles and is reported (file:line) until it is fixed. New and
removed profiles apply at once; a running server is never restarted for an edit, it is marked
"restart to apply" while its arguments differ from what its profile now says. ``[llamadash]``
settings (port, runtime, project…) cannot move under a running engine: a change there is only
reported ("restart llamadash to apply").

The poll is a ``stat`` a second (mtime, size, inode: editors that save by renaming change the
inode); it costs microseconds and needs no dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llamadash.core.inifile import ConfigError, Entry, parse_ini
from llamadash.core.profiles import SETTINGS_SECTION, Profile, ProfileSet, load_profiles
from llamadash.core.runtime.base import Observation, RuntimeFailure
from llamadash.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from llamadash.core.instance import Instance

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
Signature = tuple[int, int, int] | None
HealthListener = Callable[["ConfigHealth"], None]


def signature(path: Path) -> Signature:
    """What changes when models.conf is written: (mtime ns, size, inode); None if unreadable."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True)
class ConfigHealth:
    """What status says about models.conf after the last (re)load."""

    error: str | None = None
    """Why models.conf cannot be used (``file:line: …``); the last good profiles stay."""
    settings_changed: tuple[str, ...] = ()
    """``[llamadash]`` settings edited since llamadash started; they apply after a restart."""
    expected_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per profile id, the arguments a start would use now (compared with what runs)."""

    def restart_to_apply(self, obs: Observation) -> bool:
        """The running server's arguments differ from what its profile now says."""
        if not obs.running or not obs.profile_id:
            return False
        wanted = self.expected_args.get(obs.profile_id)
        return wanted is not None and wanted != obs.args

    @property
    def settings_note(self) -> str:
        """See :func:`settings_note`."""
        return settings_note(self.settings_changed)


def settings_note(names: Iterable[str]) -> str:
    """``settings changed (port): restart llamadash to apply``, or '' for no names."""
    listed = ", ".join(names)
    return f"settings changed ({listed}): restart llamadash to apply" if listed else ""


def load_lenient(path: Path, overrides: Mapping[str, Any] | None) -> tuple[ProfileSet, str | None]:
    """models.conf for the read-only verbs: on a bad file, no profiles and the error.

    The ``[llamadash]`` settings are still taken from the lines that read (they name the
    project, state dir and runtime, which ``status`` needs to find the server).
    """
    try:
        profiles = load_profiles(path)
        load_settings(profiles, overrides=overrides)
        return profiles, None
    except ConfigError as exc:
        error = str(exc)
        entries = _readable_settings(path, exc.line)
    fallback = ProfileSet(path, (), entries)
    try:
        load_settings(fallback, overrides=overrides)
    except ConfigError:  # the bad line is a setting: defaults, environment and flags only
        fallback = ProfileSet(path, (), ())
    return fallback, error


def _readable_settings(path: Path, bad_line: int | None) -> tuple[Entry, ...]:
    """The ``[llamadash]`` entries of the lines before ``bad_line`` (all lines if None)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    if bad_line is not None:
        lines = lines[: bad_line - 1]
    try:
        sections = parse_ini("\n".join(lines), path)
    except ConfigError:
        return ()
    return tuple(e for s in sections if s.name == SETTINGS_SECTION for e in s.entries)


@dataclass(frozen=True)
class _Loaded:
    profiles: ProfileSet | None
    error: str | None = None
    settings_changed: tuple[str, ...] = ()
    expected_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class ConfigWatch:
    """Keeps an Instance's profiles in step with models.conf.

    Args:
        switcher: whose profiles are replaced (its ``profiles.path`` is the file watched).
        overrides: the command-line settings the engine was built with (they still win).
        seen: the file's signature when the profiles were read (None: look now).
        error: why the file could not be read at start (read-only verbs build anyway).
    """

    def __init__(
        self,
        switcher: Instance,
        overrides: Mapping[str, Any] | None = None,
        *,
        seen: Signature = None,
        error: str | None = None,
    ) -> None:
        self.switcher = switcher
        self.path = switcher.profiles.path
        self.overrides = dict(overrides or {})
        self.health = ConfigHealth(error=error)
        self._seen = seen if seen is not None else signature(self.path)
        self._lock = asyncio.Lock()
        self._listeners: list[HealthListener] = []
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, listener: HealthListener) -> Callable[[], None]:
        """Call ``listener`` (on the loop) after each reload; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def start(self, interval: float = POLL_SECONDS) -> None:
        """Poll the file every ``interval`` seconds on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(interval), name="llamadash-confwatch")

    async def aclose(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self, interval: float) -> None:
        # What the running server should have is known only once the runtime is asked.
        try:
            expected = await asyncio.to_thread(self._expected, self.switcher.profiles)
            # Nothing was reloaded: no listener call (status shows it when next asked).
            self._set(dataclasses.replace(self.health, expected_args=expected), notify=False)
        except Exception:  # without it only "restart to apply" is missing; keep watching
            log.exception("cannot tell the arguments of the profiles")
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except Exception:  # the poll must outlive anything; the next tick tries again
                log.exception("reloading models.conf failed")

    async def check(self) -> bool:
        """Reload models.conf if it changed since the last look; True when it had.

        Callers that must see the file as it is now (an exact profile id forwarded by the
        CLI, which has just read it) call this before looking a profile up.
        """
        async with self._lock:
            now = signature(self.path)
            if now == self._seen:
                return False
            self._seen = now
            loaded = await asyncio.to_thread(self._load)
            self._apply(loaded)
            return True

    def _load(self) -> _Loaded:
        """Parse the file (in a thread: it may ask the runtime for the args of each profile)."""
        try:
            profiles = load_profiles(self.path)
            settings = load_settings(profiles, overrides=self.overrides)
        except ConfigError as exc:
            return _Loaded(None, str(exc))
        running = self.switcher.settings
        changed = tuple(
            f.name
            for f in dataclasses.fields(Settings)
            if getattr(settings, f.name) != getattr(running, f.name)
        )
        return _Loaded(profiles, None, changed, self._expected(profiles))

    def _expected(self, profiles: ProfileSet) -> dict[str, tuple[str, ...]]:
        expected: dict[str, tuple[str, ...]] = {}
        for profile in profiles.profiles:
            spec = self.switcher.launch_spec(profile)
            with contextlib.suppress(RuntimeFailure, ValueError):  # such a start fails anyway
                expected[profile.id] = tuple(self.switcher.runtime.command(spec))
        return expected

    def _apply(self, loaded: _Loaded) -> None:
        if loaded.profiles is None:
            if loaded.error != self.health.error:
                self._say(f"models.conf: {loaded.error}; keeping the previous profiles")
            self._set(dataclasses.replace(self.health, error=loaded.error))
            return
        old = self.switcher.profiles
        self.switcher.replace_profiles(loaded.profiles)
        health = ConfigHealth(None, loaded.settings_changed, loaded.expected_args)
        if self.health.error:
            self._say("models.conf: fixed")
        if summary := describe_changes(old.profiles, loaded.profiles.profiles):
            self._say(f"models.conf reloaded: {summary}")
        if health.settings_note and health.settings_note != self.health.settings_note:
            self._say(f"models.conf: {health.settings_note}")
        self._set(health, changed=bool(summary))

    def _set(self, health: ConfigHealth, *, notify: bool = True, changed: bool = False) -> None:
        """Take ``health``; listeners hear of it when it or a profile (``changed``) differs.

        A profile edit that leaves every argument alone (its ``host``, ``ttl``) still goes
        to the listeners: the pools hand it to their instances.
        """
        if health == self.health and not changed:
            return
        self.health = health
        self.switcher.revision += 1  # a rendered /status shows the health: render it again
        for listener in list(self._listeners) if notify else ():
            try:
                listener(health)
            except Exception:  # a broken subscriber must not stop the reloads
                log.exception("config listener failed")

    def _say(self, text: str) -> None:
        log.warning("%s", text)
        self.switcher.logs.separator(text)


def describe_changes(old: Iterable[Profile], new: Iterable[Profile]) -> str:
    """``added tiny2; removed foo; changed tiny`` (where a profile was written is ignored)."""
    before = {p.id: dataclasses.replace(p, source="") for p in old}
    after = {p.id: dataclasses.replace(p, source="") for p in new}
    parts = [
        f"{word} {', '.join(ids)}"
        for word, ids in (
            ("added", [i for i in after if i not in before]),
            ("removed", [i for i in before if i not in after]),
            ("changed", [i for i in after if i in before and after[i] != before[i]]),
        )
        if ids
    ]
    return "; ".join(parts)
