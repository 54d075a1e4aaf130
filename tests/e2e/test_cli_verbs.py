"""The real ``llamadash`` command in a subprocess, with the process runtime and the tiny GGUF.

Each CLI run records its imports (PYTHONPROFILEIMPORTTIME, the env form of ``-X importtime``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import write_conf

LLAMADASH = Path(sys.executable).with_name("llamadash")


@dataclass
class Ran:
    """One CLI run: exit code, output, and the top-level packages it imported."""

    returncode: int
    stdout: str
    stderr: str
    imported: set[str] = field(repr=False)


def run_cli(conf: Path, *argv: str, env: dict[str, str] | None = None) -> Ran:
    done = subprocess.run(
        [str(LLAMADASH), "--models-conf", str(conf), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {}), "PYTHONPROFILEIMPORTTIME": "1"},
    )
    imported, stderr = set(), []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
        else:
            stderr.append(line)
    return Ran(done.returncode, done.stdout, "\n".join(stderr), imported)


def another_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def conf(tmp_path: Path, tiny_gguf: Path, free_port: int) -> Path:
    """A process-runtime models.conf on free ports, its state under tmp_path."""
    return write_conf(
        tmp_path / "models.conf",
        models_dir=tiny_gguf.parent,
        port=free_port,
        project=f"cli-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
        api_port=another_free_port(),
    )


def test_without_an_owner_status_and_stop_run_locally(conf: Path) -> None:
    status = run_cli(conf, "status", "--json")
    stop = run_cli(conf, "stop")
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "idle"
    assert stop.returncode == 0 and stop.stdout.strip() == "already stopped"
    assert "forwarding" not in stop.stderr


@pytest.mark.llama
def test_stop_prints_only_what_the_stop_does(conf: Path, llama_server_bin: Path) -> None:
    # Regression: the CLI adopts the running server first and printed that as progress,
    # "ready: Tiny random llama (adopted a running server)" before "stopping…".
    env = {"LLAMA_SERVER": str(llama_server_bin)}
    started = run_cli(conf, "switch", "tiny", env=env)
    assert started.returncode == 0, started.stderr
    stop = run_cli(conf, "stop", env=env)
    assert stop.returncode == 0, stop.stderr
    assert stop.stderr.splitlines() == ["stopping…", "stopped"]
    assert stop.stdout.strip() == "stopped"


@pytest.mark.engine
def test_dry_run_with_a_value_env_cannot_hold_is_a_clear_error(
    engine: object, compose_project: tuple[str, Path], tiny_gguf: Path, free_port: int
) -> None:
    # Regression: `switch X --dry-run` on the compose runtime ended in a traceback.
    project, project_dir = compose_project
    conf = write_conf(
        project_dir / "models.conf",
        models_dir=tiny_gguf.parent,
        port=free_port,
        project=project,
        project_dir=project_dir,
        state_dir=project_dir / "state",
    )
    with conf.open("a") as handle:
        handle.write('\n[quoted]\nmodel = tiny.gguf\nextra = --chat-template "it\'s"\n')
    ran = run_cli(conf, "switch", "quoted", "--dry-run")
    assert ran.returncode == 2, ran
    assert "Traceback" not in ran.stderr
    assert ran.stderr.splitlines() == [
        "error: profile quoted cannot run on the compose runtime: LLAMA_ARGS: value contains a"
        ' single quote, which .env cannot carry: "it\'s" (change it in models.conf, or use'
        " --runtime process)"
    ]
    assert not (project_dir / ".env").exists()
