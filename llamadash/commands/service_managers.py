"""The service managers ``llamadash service`` talks to: systemd (user) and launchd (agent).

Each one knows where its file lives, renders it (core/service_unit.py), and asks its own tool
(systemctl, launchctl) to load, unload and describe it. A tool that is missing or cannot reach
its manager (no systemd as PID 1, no user bus) is reported in one line with the commands that
would do the same by hand; it is never an error: the file is what install promises.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from llamadash.core.service_unit import (
    LAUNCHD_LABEL,
    UNIT_NAME,
    ServiceSpec,
    UnitValueError,
    exec_argv,
    render_plist,
    render_unit,
)

_TIMEOUT = 60.0


@dataclass(frozen=True)
class Ran:
    """One call of the manager's tool: its exit code and what it printed (stripped)."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def reason(self) -> str:
        """Its first line of complaint, for a one-line message."""
        text = self.stderr or self.stdout
        return text.splitlines()[0] if text else f"exit {self.returncode}"


@dataclass
class Report:
    """What loading or unloading did: lines to show, commands left to the user, success."""

    lines: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    ok: bool = True


def run_tool(argv: list[str]) -> Ran | None:
    """Run a manager's tool with our environment (its bus address); None if it is missing."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        return Ran(127, "", str(exc))
    except subprocess.TimeoutExpired:
        return Ran(124, "", f"{shlex.join(argv)} did not answer within {_TIMEOUT:.0f} s")
    return Ran(done.returncode, done.stdout.strip(), done.stderr.strip())


class Systemd:
    """A systemd user unit: ``$XDG_CONFIG_HOME/systemd/user/llamadash.service``."""

    name = "systemd"

    @property
    def path(self) -> Path:
        """Where the unit lives (systemctl --user looks there too)."""
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "systemd" / "user" / UNIT_NAME

    def render(self, spec: ServiceSpec) -> str:
        """The unit's text."""
        return render_unit(spec)

    def installed_argv(self) -> tuple[str, ...] | None:
        """The command the installed unit runs (None: no unit, or no ExecStart= in it)."""
        try:
            return exec_argv(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    def _systemctl(self, *args: str) -> Ran | None:
        return run_tool(["systemctl", "--user", *args])

    def load(self, changed: bool) -> Report:
        """Reload, enable and start the unit where a user systemd answers (``changed``: restart)."""
        report = Report()
        start = [f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"]
        reload = self._systemctl("daemon-reload")
        if reload is None:
            report.lines.append("systemctl not found: nothing enabled or started")
            report.manual = start
            return report
        reachable = reload.returncode == 0
        # Without a manager (not booted with systemd) systemctl enables on the files alone.
        enable = self._systemctl("enable", UNIT_NAME)
        if enable is not None and enable.returncode == 0:
            report.lines.append("enabled: it starts with your user's systemd (default.target)")
        else:
            report.ok = not reachable
            report.lines.append(f"not enabled ({enable.reason if enable else 'no systemctl'})")
        if not reachable:
            report.lines.append(f"no user systemd reachable here ({reload.reason}): not started")
            report.manual = start
            return report
        # A changed unit applies only after a restart; an unchanged one running stays as it is.
        restart = self._systemctl("restart" if changed else "start", UNIT_NAME)
        if restart is not None and restart.returncode == 0:
            report.lines.append(f"running: systemctl --user status {UNIT_NAME}")
        else:
            report.ok = False
            reason = restart.reason if restart else "systemctl vanished"
            report.lines.append(f"start failed: {reason} (journalctl --user -u {UNIT_NAME})")
        return report

    def unload(self) -> Report:
        """Stop and disable the unit (disable works on the files when no manager answers)."""
        report = Report()
        stop = self._systemctl("stop", UNIT_NAME)
        if stop is None:
            report.lines.append("systemctl not found: nothing to stop or disable")
            return report
        if stop.returncode == 0:
            report.lines.append("stopped")
        else:
            report.lines.append(f"not stopped: no user systemd reachable ({stop.reason})")
        disable = self._systemctl("disable", UNIT_NAME)
        if disable is not None and disable.returncode == 0:
            report.lines.append("disabled")
        elif disable is not None:
            report.lines.append(f"not disabled ({disable.reason})")
        return report

    def forget(self) -> None:
        """After the file is gone: let a running manager forget it too."""
        self._systemctl("daemon-reload")

    def state(self) -> tuple[str, str]:
        """(enabled, active) as systemctl says them, or why it cannot."""
        enabled = self._systemctl("is-enabled", UNIT_NAME)
        if enabled is None:
            return "unknown: systemctl not found", "unknown: systemctl not found"
        active = self._systemctl("is-active", UNIT_NAME)
        active_word = active.stdout if active is not None else ""
        if not active_word:
            reason = active.reason if active is not None else "no systemctl"
            active_word = f"unknown: no user systemd here ({reason})"
        return enabled.stdout or f"unknown: {enabled.reason}", active_word

    def hint(self) -> str:
        """How to have it start at boot rather than at login."""
        user = os.environ.get("USER") or os.environ.get("LOGNAME") or "$USER"
        return f"to start it at boot, before you log in: loginctl enable-linger {user}"


class Launchd:
    """A launchd agent: ``~/Library/LaunchAgents/local.llamadash.plist``."""

    name = "launchd"

    @property
    def path(self) -> Path:
        """Where the agent's plist lives."""
        return Path.home() / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"

    def render(self, spec: ServiceSpec) -> str:
        """The plist's XML, checked by reading it back with plistlib.

        Raises:
            UnitValueError: the plist did not read back as written.
        """
        data = render_plist(spec)
        text = plistlib.dumps(data, sort_keys=True).decode("utf-8")
        if plistlib.loads(text.encode("utf-8")) != data:
            raise UnitValueError(f"the launchd plist does not read back as written: {data}")
        return text

    def installed_argv(self) -> tuple[str, ...] | None:
        """The command the installed agent runs (None: no plist, or not one of ours)."""
        try:
            data = plistlib.loads(self.path.read_bytes())
        except (OSError, plistlib.InvalidFileException, ValueError):
            return None
        argv = data.get("ProgramArguments") if isinstance(data, dict) else None
        return tuple(str(a) for a in argv) if isinstance(argv, list) else None

    @property
    def _domain(self) -> str:
        return f"gui/{os.getuid()}"

    def load(self, changed: bool) -> Report:
        """Load (again) the agent into the user's GUI domain; it starts at once (RunAtLoad).

        Loaded again even when not ``changed``: bootstrap is how launchd reads the file.
        """
        report = Report()
        bootstrap = ["launchctl", "bootstrap", self._domain, str(self.path)]
        if shutil.which("launchctl") is None:
            report.lines.append("launchctl not found (not macOS?): nothing loaded")
            report.manual = [shlex.join(bootstrap)]
            return report
        run_tool(["launchctl", "bootout", f"{self._domain}/{LAUNCHD_LABEL}"])  # if loaded
        done = run_tool(bootstrap)
        if done is not None and done.returncode == 0:
            report.lines.append(f"loaded: launchctl print {self._domain}/{LAUNCHD_LABEL}")
        else:
            report.ok = False
            report.lines.append(f"launchctl bootstrap failed: {done.reason if done else '?'}")
        return report

    def unload(self) -> Report:
        """Unload the agent (it stops)."""
        done = run_tool(["launchctl", "bootout", f"{self._domain}/{LAUNCHD_LABEL}"])
        if done is None:
            return Report(["launchctl not found: nothing to unload"])
        return Report(["unloaded" if done.returncode == 0 else f"not unloaded ({done.reason})"])

    def forget(self) -> None:
        """Nothing: launchd keeps nothing once the agent is booted out."""

    def state(self) -> tuple[str, str]:
        """(loaded, running) as launchctl prints them, or why it cannot."""
        done = run_tool(["launchctl", "print", f"{self._domain}/{LAUNCHD_LABEL}"])
        if done is None:
            return "unknown: launchctl not found", "unknown: launchctl not found"
        if done.returncode != 0:
            return "not loaded", "not running"
        running = "state = running" in done.stdout
        return "loaded", "running" if running else "not running"

    def hint(self) -> str:
        """When it starts: agents start at login (launchd has no boot-time agents)."""
        return "it starts at each login (RunAtLoad); a crash restarts it (KeepAlive)"


Manager = Systemd | Launchd
