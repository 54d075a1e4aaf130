"""``llamadash bench`` against real llama-server children: speeds, history, regressions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from llamadash.core.bench_history import BenchHistory, BenchResult, Figure
from tests.e2e.conftest import write_conf
from tests.e2e.test_cli_verbs import another_free_port, run_cli

pytestmark = pytest.mark.llama


@pytest.fixture
def conf(tmp_path: Path, tiny_gguf: Path, gemma_gguf: Path, free_port: int) -> Path:
    """A process-runtime models.conf with tiny and gemma, its state (and history) in tmp_path."""
    return write_conf(
        tmp_path / "models.conf",
        models_dir=tiny_gguf.parent,
        port=free_port,
        project=f"bench-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
        api_port=another_free_port(),
    )


@pytest.fixture
def env(llama_server_bin: Path, conf: Path) -> Iterator[dict[str, str]]:
    env = {"LLAMA_SERVER": str(llama_server_bin)}
    yield env
    run_cli(conf, "stop", env=env)


def test_gemma_is_measured_and_the_result_kept(conf: Path, env: dict[str, str]) -> None:
    ran = run_cli(conf, "bench", "gemma", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    (row,) = json.loads(ran.stdout)
    result = BenchResult.from_dict(row["result"])
    assert (result.prompt_tokens, result.gen_tokens, result.repeats) == (512, 128, 3)
    assert result.gen.median > 0 and result.load_seconds is not None and result.load_seconds > 0
    # Reading a prompt is batched, generating is one token at a time: prompt is faster.
    assert result.prompt.median > result.gen.median
    assert result.prompt.low <= result.prompt.median <= result.prompt.high
    assert result.model == "gemma-3-270m-Q4_K_M.gguf" and len(result.args_hash) == 16
    assert result.build  # what the server names in /props
    assert result.binary == env["LLAMA_SERVER"]  # started here: the binary it runs
    assert row["previous"] is None and row["regressions"] == []
    stored = BenchHistory.in_state_dir(conf.parent / "state").results()
    assert stored == [result]


def test_a_drop_against_the_last_same_args_result_is_a_regression(
    conf: Path, env: dict[str, str]
) -> None:
    first = run_cli(conf, "bench", "tiny", "--repeat", "1", "--json", env=env)
    assert first.returncode == 0, first.stderr
    measured = BenchResult.from_dict(json.loads(first.stdout)[0]["result"])
    # An older result of the same model and args, ten times faster than this machine can be.
    history = BenchHistory.in_state_dir(conf.parent / "state")
    faster = Figure.of([measured.gen.median * 10])
    history.append(BenchResult(**{**measured.to_dict(), "gen": faster, "prompt": measured.prompt}))
    again = run_cli(conf, "bench", "tiny", "--repeat", "1", env=env)
    assert again.returncode == 1, again.stderr
    assert "REGRESSION tiny: generation" in again.stderr
    header, row = again.stdout.splitlines()
    assert header.split()[0] == "profile" and row.split()[0] == "tiny"
    assert row.endswith("REGRESSION")
    assert len(history.results()) == 3  # every result kept, the regressed one too


def test_a_profile_that_cannot_start_is_reported_and_the_others_still_run(
    conf: Path, env: dict[str, str]
) -> None:
    (conf.parent / "corrupt.gguf").write_bytes(b"not a gguf\n" * 10)
    with conf.open("a") as out:
        out.write(f"\n[broken]\nname = Broken\nmodel = {conf.parent / 'corrupt.gguf'}\n")
    ran = run_cli(conf, "bench", "broken", "tiny", "--repeat", "1", "--json", env=env)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    broken, tiny = json.loads(ran.stdout)
    assert broken["error"] and broken["result"] is None
    assert tiny["error"] is None and tiny["result"]["gen"]["median"] > 0
    unknown = run_cli(conf, "bench", "nope", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
