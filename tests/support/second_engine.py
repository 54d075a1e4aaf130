"""A second private dockerd on its own socket and dirs: another Docker "host" on this machine.

Started the way scripts/testbed/engine-up.sh starts the test bed's (bridge-less, no iptables:
containers use network_mode host, so its servers answer on 127.0.0.1 like the first one's),
with the llama-server image copied over from the first engine (there is no registry).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

START_DEADLINE = 30.0
STOP_DEADLINE = 20.0


class SecondEngine:
    """One dockerd of our own; ``stop()`` ends it by its PID, ``close()`` removes everything."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ld-host2-", dir="/tmp"))  # short: socket path
        self.url = f"unix://{self.root}/docker.sock"
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Any:
        """Start dockerd and wait until it answers; returns an SDK client on it.

        Raises:
            RuntimeError: no dockerd here, or it did not answer in time (with its log tail).
        """
        if shutil.which("dockerd") is None:
            raise RuntimeError("no dockerd on PATH (apt-get install docker.io)")
        log = (self.root / "dockerd.log").open("wb")
        self._process = subprocess.Popen(
            [
                *("dockerd", "--data-root", str(self.root / "data")),
                *("--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "pid")),
                *("-H", self.url, "--bridge=none", "--iptables=false", "--ip-masq=false"),
                "--ip6tables=false",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.pid = self._process.pid
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with contextlib.suppress(Exception):
                client = docker.DockerClient(base_url=self.url, timeout=5)
                client.ping()
                return client
            time.sleep(0.1)
        tail = (self.root / "dockerd.log").read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError("second dockerd did not answer: " + " | ".join(tail))

    def stop(self) -> None:
        """End dockerd by its PID (SIGTERM, then SIGKILL) and wait for it: the host goes away."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(STOP_DEADLINE)

    def close(self, client: Any | None) -> None:
        """Remove its containers, stop it, unmount what it leaves, delete its dirs."""
        if client is not None and self._process is not None and self._process.poll() is None:
            with contextlib.suppress(Exception):
                for container in client.containers.list(all=True):
                    container.remove(force=True)
            with contextlib.suppress(Exception):
                client.close()
        self.stop()
        netns = self.root / "exec" / "netns" / "default"
        if os.path.ismount(netns):
            subprocess.run(["umount", str(netns)], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def copy_image(source: Any, target: Any, name: str) -> None:
    """``docker save | docker load`` between two engines, through the SDK."""
    image = source.images.get(name)
    target.images.load(b"".join(image.save(named=name)))  # named: keep the tag
