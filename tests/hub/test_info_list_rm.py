"""``info``, ``search`` (STAND-IN hub: olah has no search), ``list`` and ``rm`` on local files.

The repos come from the stand-in (tests/support/hub_standin.py) except where a test says olah.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from tests.hub.conftest import OLAH_TINY_REPO, TINY_REPO, cli_env, run_cli
from tests.support.hub_standin import StandinHub


def test_info_repo_lists_quants_sizes_local_and_card(
    standin: StandinHub, conf: Path, hub_files: dict[str, Path]
) -> None:
    env = cli_env(standin.url)
    assert run_cli(conf, "pull", TINY_REPO, env=env).returncode == 0
    ran = run_cli(conf, "info", TINY_REPO, "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    info = json.loads(ran.stdout)
    quants = {q["quant"]: q for q in info["quants"]}
    assert list(quants)[:4] == ["Q4_K_M", "Q6_K", "Q8_0", "IQ4_XS"]
    assert quants["Q6_K"]["size"] == 500_000 and len(quants["Q6_K"]["files"]) == 2
    assert quants["Q4_K_M"]["local"] and quants["Q4_K_M"]["default"]
    assert not quants["Q8_0"]["local"]
    assert "F16" in quants  # the projector is shown by info (pull skips it)
    assert info["card"].startswith("# Tiny GGUF") and "license" not in info["card"]
    text = run_cli(conf, "info", TINY_REPO, env=env)
    assert "Q4_K_M" in text.stdout and "local default" in text.stdout


def test_info_repo_through_olah(olah: str, tmp_path: Path) -> None:
    """Served by the REAL mirror (olah)."""
    ran = run_cli(tmp_path / "models.conf", "info", OLAH_TINY_REPO, "--json", env=cli_env(olah))
    assert ran.returncode == 0, ran.stderr
    info = json.loads(ran.stdout)
    assert [q["quant"] for q in info["quants"]] == ["F32"]
    assert info["card"].startswith("# Tiny for olah")


def test_info_file_reads_local_metadata(conf: Path, hub_files: dict[str, Path]) -> None:
    ran = run_cli(conf, "info", str(hub_files["tiny"]), "--json", env=cli_env("http://127.0.0.1:9"))
    assert ran.returncode == 0, ran.stderr
    facts = json.loads(ran.stdout)
    assert (facts["architecture"], facts["context_length"], facts["layers"]) == ("llama", 2048, 2)
    assert facts["quant"] == "ALL_F32" and facts["chat_template"] is True
    bad = run_cli(conf, "info", str(hub_files["st"].with_suffix(".gguf")), env=cli_env(""))
    assert bad.returncode == 1 and "no such file" in bad.stderr


def test_search_keeps_only_repos_with_gguf_files(standin: StandinHub, conf: Path) -> None:
    ran = run_cli(conf, "search", "llamadash-test", "--json", env=cli_env(standin.url))
    assert ran.returncode == 0, ran.stderr
    hits = json.loads(ran.stdout)
    # tiny-safetensors is tagged gguf by the Hub's filter but holds no .gguf: left out
    assert [h["repo"] for h in hits] == [TINY_REPO, "llamadash-test/gated-GGUF"]
    assert hits[0]["downloads"] == 1234 and hits[0]["likes"] == 5
    assert hits[0]["modified"] == "2026-11-02" and hits[0]["gguf_files"] == 6
    none = run_cli(conf, "search", "nothing-like-this", env=cli_env(standin.url))
    assert none.returncode == 0 and "no GGUF repos match" in none.stdout


def test_list_shows_models_quants_and_profiles(standin: StandinHub, conf: Path) -> None:
    env = cli_env(standin.url)
    assert run_cli(conf, "pull", TINY_REPO, "--profile", "t", env=env).returncode == 0
    assert run_cli(conf, "pull", f"{TINY_REPO}:Q6_K", env=env).returncode == 0
    ran = run_cli(conf, "list", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    listed = json.loads(ran.stdout)
    rows = {r["quant"]: r for r in listed["models"]}
    assert set(rows) == {"Q4_K_M", "Q6_K"}
    assert rows["Q4_K_M"]["profiles"] == ["t"] and rows["Q6_K"]["profiles"] == []
    assert rows["Q6_K"]["files"] == 2 and rows["Q6_K"]["size"] == 500_000
    assert listed["total"] == sum(r["size"] for r in listed["models"])
    text = run_cli(conf, "list", env=env).stdout
    assert f"{TINY_REPO}" in text and "2 models" in text


def test_rm_asks_refuses_a_loaded_model_and_removes(
    standin: StandinHub, conf: Path, llama_server_bin: Path, free_port: int
) -> None:
    env = cli_env(standin.url)
    assert run_cli(conf, "pull", TINY_REPO, env=env).returncode == 0
    model = conf.parent / "models" / TINY_REPO / "tiny-Q4_K_M.gguf"
    not_asked = run_cli(conf, "rm", TINY_REPO, env=env)  # no terminal to ask on, no --yes
    assert not_asked.returncode == 1 and "pass --yes" in not_asked.stderr and model.is_file()
    server = subprocess.Popen(
        [str(llama_server_bin), "-m", str(model), "--host", "127.0.0.1", "--port", str(free_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(free_port)
        refused = run_cli(conf, "rm", TINY_REPO, "--yes", env=env)
        assert refused.returncode == 1 and f"pid {server.pid}" in refused.stderr
        assert model.is_file()
    finally:
        server.terminate()
        server.wait(timeout=30)
    removed = run_cli(conf, "rm", f"{TINY_REPO}:Q4_K_M", "--yes", env=env)
    assert removed.returncode == 0, removed.stderr
    assert not (conf.parent / "models" / "llamadash-test").exists()  # empty folders pruned
    gone = run_cli(conf, "rm", TINY_REPO, "--yes", env=env)
    assert gone.returncode == 1 and "no local model" in gone.stderr


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("llama-server did not become healthy")


def test_search_on_a_mirror_without_search_says_so(olah: str, tmp_path: Path) -> None:
    """Asked of the REAL mirror (olah), which refuses searches (401)."""
    ran = run_cli(tmp_path / "models.conf", "search", "gemma", env=cli_env(olah))
    assert ran.returncode == 1 and "did not answer the search" in ran.stderr, ran.stderr
    assert "try info USER/REPO" in ran.stderr and "Traceback" not in ran.stderr
