"""The environment llamadash's children get: what they need, never llamadash's secrets.

The llama-server child itself is checked in tests/e2e/test_process_runtime.py (/proc/<pid>/environ).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from llamadash.core.runtime.compose import ComposeRuntime
from llamadash.core.runtime.environ import compose_env, server_env
from tests.conftest import missing

SECRETS = {
    "LLAMADASH_API_TOKEN": "side-api-secret",
    "HF_TOKEN": "hf_secret",
    "LLAMA_API_KEY": "k",
    "LLAMA_ARG_HOST": "0.0.0.0",
    "LLAMA_ARG_API_PREFIX": "/x",
    "LLAMA_ARGS": "--host 0.0.0.0",
    "AWS_SECRET_ACCESS_KEY": "aws",
}
COMMON = {"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC"}


def test_server_gets_gpu_and_locale_variables_but_no_secret_nor_llama_flag() -> None:
    gpu = {"CUDA_VISIBLE_DEVICES": "1", "GGML_VK_VISIBLE_DEVICES": "0", "OMP_NUM_THREADS": "2"}
    assert server_env({**SECRETS, **COMMON, **gpu, "DOCKER_HOST": "x"}) == {**COMMON, **gpu}


def test_compose_gets_docker_and_compose_variables_but_no_secret() -> None:
    docker = {
        "DOCKER_HOST": "unix:///run/d.sock",
        "DOCKER_CONFIG": "/c",
        "COMPOSE_PARALLEL_LIMIT": "1",
        "XDG_RUNTIME_DIR": "/run/user/1",
        "https_proxy": "http://p:3128",
        "SSH_AUTH_SOCK": "/tmp/a",
    }
    assert compose_env({**SECRETS, **COMMON, **docker, "CUDA_VISIBLE_DEVICES": "1"}) == {
        **COMMON,
        **docker,
    }


def test_default_is_our_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAMADASH_API_TOKEN", "side-api-secret")
    monkeypatch.setenv("GGML_SCHED_MAX_COPIES", "1")
    assert "LLAMADASH_API_TOKEN" not in server_env() | compose_env()
    assert server_env()["GGML_SCHED_MAX_COPIES"] == "1"
    assert server_env()["PATH"] == os.environ["PATH"]


def test_docker_compose_cli_does_not_see_our_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose interpolates the CLI's own environment, so `config` shows what the CLI saw."""
    if (
        shutil.which("docker") is None
        or (
            subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        ).returncode
    ):
        missing("the docker compose CLI plugin", "make testbed links it")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCKER_HOST", os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    seen = {name: f"${{{name}:-absent}}" for name in [*SECRETS, "DOCKER_HOST", "HOME"]}
    (tmp_path / "compose.yaml").write_text(
        json.dumps({"services": {"probe": {"image": "scratch", "environment": seen}}})
    )
    (tmp_path / ".env").write_text("LLAMA_ARGS='--jinja'\n")  # what llamadash wrote
    runtime = ComposeRuntime(tmp_path, (str(tmp_path / "compose.yaml"),), project_name="ldenv")
    config = json.loads(runtime.compose("config", "--format", "json", timeout=60))
    environment = config["services"]["probe"]["environment"]
    assert environment["DOCKER_HOST"] == os.environ["DOCKER_HOST"]
    assert environment["HOME"] == os.environ["HOME"]
    assert environment["LLAMA_ARGS"] == "--jinja"  # .env, not the exported "--host 0.0.0.0"
    del environment["LLAMA_ARGS"], environment["DOCKER_HOST"], environment["HOME"]
    assert environment == dict.fromkeys(environment, "absent")
    assert set(environment) == set(SECRETS) - {"LLAMA_ARGS"}


def test_a_browser_sessions_dashboard_keeps_what_llamadash_reads_but_not_the_web_token() -> None:
    from llamadash.core.runtime.environ import dashboard_env

    kept = {
        "DOCKER_HOST": "unix:///run/d.sock",
        "LLAMA_SERVER": "/opt/llama-server",
        "LLAMADASH_API_TOKEN": "side-api-secret",  # the dashboard's own API demands it
        "HF_TOKEN": "hf_secret",  # its pulls use it
        "CUDA_VISIBLE_DEVICES": "1",  # picked again for its llama-server
        "PYTHONPATH": "/src/llamadash",
        "TERM": "xterm-256color",
    }
    dropped = {
        "LLAMADASH_WEB_TOKEN": "web-secret",  # only the web listener checks it
        "LLAMA_API_KEY": "k",
        "LLAMA_ARG_HOST": "0.0.0.0",
        "AWS_SECRET_ACCESS_KEY": "aws",
    }
    assert dashboard_env({**COMMON, **kept, **dropped}) == {**COMMON, **kept}
