"""A real, offline Hugging Face mirror for tests: olah serving local git repos on loopback.

olah (PyPI, MIT) runs from its own venv (scripts/testbed/install.sh makes it: its
fastapi-utils pins psutil<6, which the project's psutil does not fit). The repos are git
checkouts with the GGUFs in git-lfs, so the real ``huggingface_hub`` client sees sizes and
LFS sha256 as on the Hub. Its gaps (no search, no Range, 401 for a missing file) are covered by
tests/support/hub_standin.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

READY_SECONDS = 60.0


def olah_cli(cache: Path) -> Path:
    """Where the test bed installs olah's command."""
    return cache / "olah-venv" / "bin" / "olah-cli"


def make_repo(mirrors: Path, repo: str, files: Mapping[str, Path]) -> Path:
    """A git checkout ``mirrors/models/<repo>`` holding ``files`` (GGUFs in git-lfs)."""
    folder = mirrors / "models" / repo
    folder.mkdir(parents=True)
    git = ["git", "-C", str(folder), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "lfs", "install", "--local"], check=True, capture_output=True)
    subprocess.run([*git, "lfs", "track", "*.gguf"], check=True, capture_output=True)
    for name, source in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)  # git-lfs copies it into its object store anyway
        except OSError:
            shutil.copyfile(source, target)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "models"], check=True)
    return folder


@contextmanager
def olah_hub(cli: Path, root: Path, probe_repo: str) -> Iterator[str]:
    """Run olah over the repos under ``root/mirrors``; yield its endpoint URL.

    Ready when the file tree of ``probe_repo`` answers (olah's ``GET /`` answers 500).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    netloc = f"127.0.0.1:{port}"
    config = root / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "127.0.0.1"\nport = {port}\n'
        f'mirror-scheme = "http"\nmirror-netloc = "{netloc}"\nmirror-lfs-netloc = "{netloc}"\n'
        f'repos-path = "{root / "repos"}"\nmirrors-path = ["{root / "mirrors"}"]\n'
        "[accessibility]\noffline = true\n"
        '[[accessibility.proxy]]\nrepo = "*/*"\nallow = true\n'
        '[[accessibility.cache]]\nrepo = "*/*"\nallow = true\n'
    )
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    with (logs / "olah.out").open("wb") as out:
        child = subprocess.Popen(
            [str(cli), "-c", str(config), "--log-path", str(logs)],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{netloc}"
    try:
        _wait_ready(child, f"{url}/api/models/{probe_repo}/tree/main", logs / "olah.out")
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:  # it waits for streams in flight
            child.kill()
            child.wait()


def _wait_ready(child: subprocess.Popen[bytes], probe: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"olah exited {child.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(probe, timeout=2, follow_redirects=True).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"olah did not answer {probe} in {READY_SECONDS:.0f}s: {log.read_text()[-2000:]}"
    )
