"""``llamadash pull`` through the REAL local mirror (olah) with the real Hub client, then the
pulled Gemma 3 270M loads in a real llama-server and answers.

olah serves the repos as the Hub would (tree, sizes, LFS sha256, resolve); it has no Range, so
resuming is tested against the stand-in (test_pull_standin.py).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from llamadash.core.context import Engine, build_engine
from llamadash.core.events import Result
from tests.e2e.conftest import write_conf
from tests.hub.conftest import GEMMA_REPO, OLAH_TINY_REPO, cli_env, run_cli


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def test_pull_tiny_through_olah(olah: str, tmp_path: Path) -> None:
    conf = tmp_path / "models.conf"
    ran = run_cli(conf, "pull", OLAH_TINY_REPO, "--json", env=cli_env(olah))
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["quant"] == "F32"
    assert Path(result["path"]) == tmp_path / "models" / OLAH_TINY_REPO / "tiny-F32.gguf"
    assert Path(result["path"]).stat().st_size == result["size"] > 0


@pytest.fixture
async def pulled_gemma_engine(
    olah: str,
    tmp_path: Path,
    free_port: int,
    llama_server_bin: Path,
    gemma_gguf: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Engine, Path]]:
    """Pull Gemma through olah with ``--profile``, then a process Engine on that models.conf."""
    monkeypatch.setenv("LLAMA_SERVER", str(llama_server_bin))
    models = tmp_path / "models"
    models.mkdir()
    conf = write_conf(
        tmp_path / "models.conf",
        models_dir=models,
        port=free_port,
        project=f"hub-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
    )
    before = conf.read_text()
    ran = run_cli(
        conf, "pull", f"hf.co/{GEMMA_REPO}:Q4_K_M", "--profile", "pulled", env=cli_env(olah)
    )
    assert ran.returncode == 0, ran.stderr
    assert conf.read_text().startswith(before)
    pulled = models / GEMMA_REPO / "gemma-3-270m-Q4_K_M.gguf"
    assert sha256(pulled) == sha256(gemma_gguf)
    engine = build_engine(conf)
    yield engine, pulled
    await engine.switcher.request(None)
    await engine.switcher.aclose()


async def test_pulled_gemma_loads_in_llama_server_and_answers(
    pulled_gemma_engine: tuple[Engine, Path],
) -> None:
    engine, pulled = pulled_gemma_engine
    profile = engine.profiles.get("pulled")
    assert profile is not None and profile.ctx == 32768  # trained 32,768: not capped
    outcome = await engine.switcher.request("pulled")
    assert outcome.result == Result.READY, outcome
    props = httpx.get(f"{engine.switcher.endpoint}/props", timeout=10).json()
    assert props["model_path"] == str(pulled)
    answer = httpx.post(
        f"{engine.switcher.endpoint}/completion",
        json={"prompt": "The capital of France is", "n_predict": 8, "temperature": 0},
        timeout=60,
    )
    assert answer.status_code == 200
    assert answer.json()["content"].strip()


def test_a_mirror_that_ignores_range_restarts_the_partial_cleanly(
    olah: str, tmp_path: Path
) -> None:
    """The REAL mirror (olah) answers a Range request with 200 and the whole file."""
    partial = tmp_path / "models" / OLAH_TINY_REPO / "tiny-F32.gguf.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"left over from an older, different download" * 100)
    ran = run_cli(tmp_path / "models.conf", "pull", OLAH_TINY_REPO, "--json", env=cli_env(olah))
    assert ran.returncode == 0, ran.stderr
    pulled = Path(json.loads(ran.stdout)["path"])
    assert not partial.exists()
    from llamadash.core.gguf_header import read_metadata

    assert read_metadata(pulled)["general.architecture"] == "llama"  # whole and well-formed
