"""Fixtures for the Hub verbs: a stand-in hub, the real CLI in a subprocess, local files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.hub_standin import StandinHub, StandinRepo, standin_hub

TINY_REPO = "llamadash-test/tiny-GGUF"
TEXT_REPO = "llamadash-test/tiny-safetensors"  # no GGUF at all
GATED_REPO = "llamadash-test/gated-GGUF"


@dataclass
class Ran:
    """One CLI run."""

    returncode: int
    stdout: str
    stderr: str


def cli_env(endpoint: str, **extra: str) -> dict[str, str]:
    """The environment of a CLI child: this checkout, the hub at ``endpoint``, no user token."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env.update(
        PYTHONPATH=str(REPO),
        HF_ENDPOINT=endpoint,
        HF_HOME=extra.pop("HF_HOME", env.get("HF_HOME", "/nonexistent-hf-home")),
        **extra,
    )
    return env


def run_cli(conf: Path, *argv: str, env: dict[str, str], timeout: float = 300) -> Ran:
    """``llamadash --models-conf CONF ARGV…`` as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "llamadash", "--models-conf", str(conf), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def hub_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Local files the stand-in serves: the tiny GGUF (as two quants), parts, a projector."""
    from tests.support.tiny_gguf import write_tiny_gguf

    folder = tmp_path_factory.mktemp("hubfiles")
    tiny = write_tiny_gguf(folder / "tiny.gguf", seed=0)
    other = write_tiny_gguf(folder / "tiny-other.gguf", seed=1)
    big = folder / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    part1, part2 = folder / "part1.bin", folder / "part2.bin"
    part1.write_bytes(os.urandom(300_000))
    part2.write_bytes(os.urandom(200_000))
    weights = folder / "model.safetensors"
    weights.write_bytes(b"\0" * 1000)
    return {"tiny": tiny, "other": other, "big": big, "p1": part1, "p2": part2, "st": weights}


@pytest.fixture
def standin(hub_files: dict[str, Path]) -> Iterator[StandinHub]:
    """The STAND-IN hub (tests/support/hub_standin.py) with a few repos."""
    repos = {
        TINY_REPO: StandinRepo(
            files={
                "tiny-Q8_0.gguf": hub_files["other"],
                "tiny-Q4_K_M.gguf": hub_files["tiny"],
                "mmproj-tiny-F16.gguf": hub_files["other"],
                "Q6_K/tiny-Q6_K-00001-of-00002.gguf": hub_files["p1"],
                "Q6_K/tiny-Q6_K-00002-of-00002.gguf": hub_files["p2"],
                "big-IQ4_XS.gguf": hub_files["big"],
            },
            downloads=1234,
            likes=5,
            readme="---\nlicense: mit\n---\n# Tiny GGUF\n\nA random-weight llama for tests.\n",
        ),
        TEXT_REPO: StandinRepo(files={"model.safetensors": hub_files["st"]}, downloads=99),
        GATED_REPO: StandinRepo(files={"g-Q4_K_M.gguf": hub_files["tiny"]}, gated=True),
    }
    with standin_hub(StandinHub(repos)) as hub:
        yield hub


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A models.conf with the user's comments and a models dir beside it.

    Its own state dir and project: a verb never finds (or forwards to) another llamadash.
    """
    path = tmp_path / "models.conf"
    path.write_text(
        "# my models\n[llamadash]\nmodels_dir = models ; pulled ones go here\n"
        f"state_dir = {tmp_path / 'state'}\nproject_name = hubtest-{tmp_path.name}\n\n"
        "[old]\nmodel = old.gguf  # not here any more\n"
    )
    return path


GEMMA_REPO = "google/gemma-3-270m-GGUF"
OLAH_TINY_REPO = "llamadash-test/tiny-olah-GGUF"


@pytest.fixture(scope="session")
def olah(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[str]:
    """The REAL local mirror (olah) serving the tiny GGUF and Gemma 3 270M; its endpoint."""
    from tests.conftest import CACHE, missing
    from tests.support.olah_hub import make_repo, olah_cli, olah_hub
    from tests.support.tiny_gguf import write_tiny_gguf

    cli = olah_cli(CACHE)
    if not cli.is_file():
        missing(f"olah at {cli}", "install it with `make testbed`")
    if subprocess.run(["git", "lfs", "version"], capture_output=True, check=False).returncode:
        missing("git-lfs", "install it with `make testbed` (apt-get install git-lfs)")
    root = tmp_path_factory.mktemp("olah")
    tiny = write_tiny_gguf(root / "tiny.gguf", seed=2)
    readme = root / "README.md"
    readme.write_text("# Tiny for olah\n\nRandom weights.\n")
    make_repo(root / "mirrors", OLAH_TINY_REPO, {"tiny-F32.gguf": tiny, "README.md": readme})
    make_repo(root / "mirrors", GEMMA_REPO, {"gemma-3-270m-Q4_K_M.gguf": gemma_gguf})
    with olah_hub(cli, root, OLAH_TINY_REPO) as url:
        yield url
