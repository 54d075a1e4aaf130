"""The pool's verbs as a user types them: ``ps``, ``start``, ``stop all``, ``logs --all``.

Real ``llamadash`` subprocesses on the process runtime with real llama-servers (tiny, a copy
of it, Gemma), forwarded to a running ``llamadash serve`` (loading only the light path) and
run locally without one (a later command adopts what an earlier one started).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import write_conf
from tests.e2e.test_cli_verbs import LLAMADASH, Ran, another_free_port, run_cli, running_owner

pytestmark = pytest.mark.llama

# Two tiny servers fit in the budget; Gemma (~330 MiB) does not, even with the unpinned tiny
# stopped: admission refuses it and stops nothing.
POOL_SETTINGS = "max_instances = 2\nmemory_budget = 60MiB\n"
TINY2 = "\n[tiny2]\nname = Second tiny\nmodel = tiny2.gguf\nctx = 256\nthreads = 1\npin = true\n"


@pytest.fixture
def pool_conf(
    tmp_path: Path, all_models: Path, llama_server_bin: Path, free_port: int
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A process-runtime models.conf with max_instances = 2 and a pinned tiny2; every
    instance is stopped afterwards (locally: the owner, if any, is gone by then)."""
    if not (all_models / "tiny2.gguf").exists():
        shutil.copyfile(all_models / "tiny.gguf", all_models / "tiny2.gguf")
    conf = write_conf(
        tmp_path / "models.conf",
        models_dir=all_models,
        port=free_port,
        project=f"clipool-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
        api_port=another_free_port(),
    )
    conf.write_text(
        conf.read_text().replace("stop_grace = 3\n", f"stop_grace = 3\n{POOL_SETTINGS}")
    )
    with conf.open("a") as out:
        out.write(TINY2)
    env = {"LLAMA_SERVER": str(llama_server_bin)}
    yield conf, env
    run_cli(conf, "stop", "all", env=env)


def ok(ran: Ran) -> Ran:
    """``ran`` exited 0 with no traceback."""
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran


def instances(conf: Path, env: dict[str, str]) -> list[dict[str, object]]:
    ran = ok(run_cli(conf, "ps", "--json", env=env))
    rows: list[dict[str, object]] = json.loads(ran.stdout)["instances"]
    return rows


def check_pool_verbs(conf: Path, env: dict[str, str], *, forwarded: bool) -> None:
    """start tiny, start tiny2, ps, status, logs --all, a refused and an unknown start, stop
    all: the same answers forwarded and local."""
    light = (lambda ran: ran.heavy() == []) if forwarded else (lambda ran: True)
    started = ok(run_cli(conf, "start", "tiny", env=env))
    assert started.stdout.startswith("tiny: ready on http://127.0.0.1:"), started.stdout
    assert light(started), started.heavy()
    beside = ok(run_cli(conf, "start", "Second", "--json", env=env))  # the CLI's matching
    [item] = json.loads(beside.stdout)
    assert (item["profile"], item["result"], item["restarted"]) == ("tiny2", "ready", True)
    assert httpx.get(f"{item['endpoint']}/health", timeout=5).status_code == 200

    ps = ok(run_cli(conf, "ps", "--json", env=env))
    assert light(ps), ps.heavy()
    rows = json.loads(ps.stdout)["instances"]
    assert [(r["id"], r["state"], r["foreground"]) for r in rows] == [
        ("tiny", "ready", True),
        ("tiny2", "ready", False),
    ]
    assert rows[1]["endpoint"] == item["endpoint"] and rows[1]["pinned"] is True
    assert all(r["pid"] and r["health_ms"] is not None and r["memory"] for r in rows), rows
    assert str(rows[1]["log_path"]).endswith("-tiny2.log"), rows
    table = ok(run_cli(conf, "ps", env=env)).stdout
    assert "* tiny " in table and "  tiny2 " in table and " MiB" in table, table
    status = ok(run_cli(conf, "status", env=env))
    assert f"others:    1 other instance: tiny2 (ready, :{rows[1]['port']})" in status.stdout
    assert light(status), status.heavy()

    logs = ok(run_cli(conf, "logs", "--all", "-n", "20", env=env)).stdout.splitlines()
    assert any(line.startswith("tiny  | ") and "listening on" in line for line in logs), logs
    assert any(line.startswith("tiny2 | ") and "listening on" in line for line in logs), logs
    own = ok(run_cli(conf, "logs", "tiny2", "-n", "20", env=env)).stdout
    assert f"listening on {item['endpoint']}" in own, own

    refused = run_cli(conf, "start", "gemma", env=env)
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert "error: cannot start gemma: needs ~" in refused.stderr, refused.stderr
    assert "tiny2 (pinned" in refused.stderr and "Traceback" not in refused.stderr
    unknown = run_cli(conf, "start", "gemmaa-x", env=env)
    assert unknown.returncode == 2 and "Did you mean 'gemma'?" in unknown.stderr, unknown
    assert [r["id"] for r in instances(conf, env)] == ["tiny", "tiny2"]  # nothing stopped

    stopped = ok(run_cli(conf, "stop", "all", env=env))
    assert light(stopped), stopped.heavy()
    assert sorted(stopped.stdout.splitlines()) == ["tiny2: stopped", "tiny: stopped"]
    assert instances(conf, env) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{item['endpoint']}/health", timeout=1)


def test_pool_verbs_forwarded_to_a_serve_owner(pool_conf: tuple[Path, dict[str, str]]) -> None:
    conf, env = pool_conf
    with running_owner(conf, env) as api:
        check_pool_verbs(conf, env, forwarded=True)
        ran = ok(run_cli(conf, "stop", "tiny", env=env))
        assert f"forwarding to the running llamadash at {api}" in ran.stderr
        assert ran.stdout.strip() == "tiny: not running (running: nothing)"


def test_pool_verbs_run_locally_and_a_later_command_adopts(
    pool_conf: tuple[Path, dict[str, str]],
) -> None:
    conf, env = pool_conf
    check_pool_verbs(conf, env, forwarded=False)
    # Each command was its own process: the ps after the starts adopted both from the record.
    ran = ok(run_cli(conf, "stop", "tiny", env=env))
    assert "forwarding" not in ran.stderr
    assert ran.stdout.strip() == "tiny: not running (running: nothing)"


@contextmanager
def watching(conf: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``llamadash ps --watch`` in a subprocess (stdout a pipe: one table per look)."""
    proc = subprocess.Popen(
        [str(LLAMADASH), "--models-conf", str(conf), "ps", "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("owner", [True, False], ids=["forwarded", "local"])
def test_ps_watch_refreshes_until_ctrl_c_and_exits_0(
    pool_conf: tuple[Path, dict[str, str]], owner: bool
) -> None:
    conf, env = pool_conf
    with contextmanager_or_none(owner, conf, env):
        ok(run_cli(conf, "start", "tiny", env=env))
        with watching(conf, env) as proc:
            assert proc.stdout is not None
            looks, deadline = 0, time.monotonic() + 30
            while looks < 2 and time.monotonic() < deadline:  # a second look: it refreshed
                line = proc.stdout.readline()
                looks += "every 1 s, Ctrl-C to quit" in line
            assert looks == 2
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "Traceback" not in err, err


@contextmanager
def contextmanager_or_none(owner: bool, conf: Path, env: dict[str, str]) -> Iterator[None]:
    """A running ``serve`` owner, or nothing."""
    if not owner:
        yield
        return
    with running_owner(conf, env):
        yield
