"""The test bed itself: the repo's compose service, the local image and a real GGUF answer.

No llamadash code on purpose: this proves the ground every other end-to-end test stands on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import run_compose

pytestmark = __import__("pytest").mark.engine


def wait_healthy(url: str, timeout: float = 60.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url}/health not 200 within {timeout}s")


def test_compose_service_serves_tiny_model(
    engine: Any,
    llama_image: str,
    tiny_gguf: Path,
    free_port: int,
    compose_project: tuple[str, Path],
) -> None:
    project, project_dir = compose_project
    (project_dir / ".env").write_text(
        f"LLAMA_IMAGE={llama_image}\n"
        f"LLAMA_MODELS_DIR={tiny_gguf.parent}\n"
        f"LLAMA_PORT={free_port}\n"
        f"LLAMA_ARGS='--model /models/{tiny_gguf.name} --ctx-size 512'\n"
    )
    up = run_compose(project, project_dir, "up", "-d")
    assert up.returncode == 0, up.stderr
    url = f"http://127.0.0.1:{free_port}"
    wait_healthy(url)

    reply = httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["usage"]["completion_tokens"] == 8  # the tiny model never emits EOS

    container = engine.containers.list(filters={"label": f"com.docker.compose.project={project}"})[
        0
    ]
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    assert container.attrs["Config"]["Cmd"][:4] == ["--host", "127.0.0.1", "--port", str(free_port)]
    down = run_compose(project, project_dir, "down", "--timeout", "3")
    assert down.returncode == 0, down.stderr
