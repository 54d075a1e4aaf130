"""A models.conf for ``llamadash web`` tests: the process runtime, its own state dir and ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.conftest import all_models, write_conf  # noqa: F401 (a fixture)


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_conf(folder: Path, models_dir: Path) -> tuple[Path, int, int]:
    """(models.conf, llama-server's port, the side API's port) in ``folder``."""
    server_port, api_port = free_loopback_port(), free_loopback_port()
    conf = write_conf(
        folder / "models.conf",
        models_dir=models_dir,
        port=server_port,
        project="web",
        project_dir=folder,
        state_dir=folder / "state",
        runtime="process",
        api_port=api_port,
    )
    return conf, server_port, api_port


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the module's models.conf, state and screenshots."""
    return tmp_path_factory.mktemp("web")
