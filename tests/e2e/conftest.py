"""An Engine wired to the test Docker engine, the local image and real GGUF models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from llamadash.core.context import Engine, build_engine
from tests.conftest import REPO

CONF_TEMPLATE = """\
[llamadash]
models_dir = {models_dir}
port = {port}
runtime = {runtime}
project_name = {project}
project_dir = {project_dir}
compose_files = {compose_files}
image = {image}
{state_dir_line}{api_port_line}stop_grace = 3

[tiny]
name = Tiny random llama
model = tiny.gguf
ctx = 512
ngl = 0
threads = 1
speed = fast

[gemma]
name = Gemma 3 270M
model = gemma-3-270m-Q4_K_M.gguf
ctx = 1024
ngl = 0
threads = 2

[badflag]
name = Typo in a flag
model = tiny.gguf
extra = --ctx-sise 512

[corrupt]
name = Not a GGUF
model = corrupt.gguf
timeout = 30

[bench-tiny]
name = Tiny bench
model = tiny.gguf
bench = true
ctx = 256
"""


def write_conf(
    path: Path,
    *,
    models_dir: Path,
    port: int,
    project: str,
    project_dir: Path,
    state_dir: Path | None,
    image: str = "",
    runtime: str = "compose",
    api_port: int | None = None,
) -> Path:
    """Write a models.conf for tests (extra profiles may be appended by the caller).

    ``state_dir`` None leaves the XDG default (as a user has); ``api_port`` None keeps 8081.
    """
    files = f"{REPO / 'compose.yaml'},{REPO / 'compose.cpu.yaml'}"
    path.write_text(
        CONF_TEMPLATE.format(
            models_dir=models_dir,
            port=port,
            runtime=runtime,
            project=project,
            project_dir=project_dir,
            compose_files=files,
            image=image,
            state_dir_line=f"state_dir = {state_dir}\n" if state_dir else "",
            api_port_line=f"api_port = {api_port}\n" if api_port else "",
        )
    )
    return path


@pytest.fixture(scope="session")
def all_models(models_dir: Path, tiny_gguf: Path, gemma_gguf: Path) -> Path:
    """The models dir holding tiny, gemma and a corrupt file."""
    (models_dir / "corrupt.gguf").write_bytes(b"this is not a gguf file\n" * 10)
    return models_dir


@pytest.fixture
def make_engine(
    all_models: Path,
    llama_image: str,
    free_port: int,
    compose_project: tuple[str, Path],
    tmp_path: Path,
) -> Callable[..., Engine]:
    """A factory of compose Engines on one test project (same project → same server)."""
    project, project_dir = compose_project

    def make(**overrides: Any) -> Engine:
        conf = write_conf(
            tmp_path / "models.conf",
            models_dir=all_models,
            port=free_port,
            project=project,
            project_dir=project_dir,
            state_dir=tmp_path / "state",
            image=llama_image,
        )
        return build_engine(conf, overrides)

    return make


@pytest.fixture
async def engine_c(make_engine: Callable[..., Engine]) -> AsyncIterator[Engine]:
    """A compose Engine whose switcher is closed after the test."""
    built = make_engine()
    yield built
    await built.switcher.aclose()


@pytest.fixture
async def engine_p(
    all_models: Path,
    llama_server_bin: Path,
    free_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Engine]:
    """A process-runtime Engine (real llama-server child); stopped and closed afterwards."""
    monkeypatch.setenv("LLAMA_SERVER", str(llama_server_bin))
    conf = write_conf(
        tmp_path / "models.conf",
        models_dir=all_models,
        port=free_port,
        project="proc",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
    )
    engine = build_engine(conf)
    yield engine
    await engine.switcher.request(None)
    await engine.switcher.aclose()
