"""``llamadash pull`` against the STAND-IN hub (tests/support/hub_standin.py).

The stand-in answers what the local mirror (olah) cannot: Range, gated repos (401/403), a 404,
several quants and split parts in one repo. The real client, CLI and downloads run against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.hub.conftest import GATED_REPO, TEXT_REPO, TINY_REPO, cli_env, run_cli
from tests.support.hub_standin import StandinHub


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pull_ranks_quants_skips_projectors_and_lands_under_user_repo(
    standin: StandinHub, conf: Path, hub_files: dict[str, Path]
) -> None:
    ran = run_cli(conf, "pull", TINY_REPO, "--json", env=cli_env(standin.url))
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    pulled = conf.parent / "models" / TINY_REPO / "tiny-Q4_K_M.gguf"
    assert result["quant"] == "Q4_K_M" and result["path"] == str(pulled)
    assert sha256(pulled) == sha256(hub_files["tiny"])
    assert sorted(p.name for p in pulled.parent.iterdir()) == ["tiny-Q4_K_M.gguf"]
    assert ran.stderr == ""  # not a terminal: no progress line
    again = run_cli(conf, "pull", f"hf.co/{TINY_REPO}:q4_k_m", env=cli_env(standin.url))
    assert again.returncode == 0 and "already here" in again.stdout


def test_split_model_pulled_whole_with_summed_size(standin: StandinHub, conf: Path) -> None:
    ran = run_cli(conf, "pull", f"{TINY_REPO}:Q6_K", "--json", env=cli_env(standin.url))
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    folder = conf.parent / "models" / TINY_REPO
    assert [Path(f).name for f in result["files"]] == [
        "tiny-Q6_K-00001-of-00002.gguf",
        "tiny-Q6_K-00002-of-00002.gguf",
    ]
    assert result["size"] == 500_000 == sum(p.stat().st_size for p in folder.iterdir())


def test_resume_in_another_process_after_ctrl_c(standin: StandinHub, conf: Path) -> None:
    standin.rate = 1_500_000  # ~4 s for the 6 MiB file: time to interrupt it midway
    env = cli_env(standin.url)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llamadash",
            "--models-conf",
            str(conf),
            "pull",
            f"{TINY_REPO}:IQ4_XS",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    partial = conf.parent / "models" / TINY_REPO / "big-IQ4_XS.gguf.partial"
    deadline = time.monotonic() + 30
    while not (partial.is_file() and partial.stat().st_size > 1_000_000):
        assert time.monotonic() < deadline and child.poll() is None, "the pull never got going"
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    assert "run the same pull again to continue" in stderr and "Traceback" not in stderr
    kept = partial.stat().st_size
    assert 1_000_000 < kept < 6 * 1024 * 1024
    standin.rate = 0
    standin.requests.clear()
    ran = run_cli(conf, "pull", f"{TINY_REPO}:IQ4_XS", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    downloads = [r for r in standin.requests if r[0] == "GET" and "/resolve/" in r[1]]
    assert downloads[-1][2] == f"bytes={kept}-"  # continued, not started over
    final = conf.parent / "models" / TINY_REPO / "big-IQ4_XS.gguf"
    assert json.loads(ran.stdout)["downloaded"] == final.stat().st_size - kept
    assert not partial.exists()


def test_gated_repo_says_where_to_accept_the_licence(standin: StandinHub, conf: Path) -> None:
    no_token = run_cli(conf, "pull", GATED_REPO, env=cli_env(standin.url))
    assert no_token.returncode == 1
    assert f"is gated: accept its licence at {standin.url}/{GATED_REPO}" in no_token.stderr
    assert "HF_TOKEN" in no_token.stderr and "Traceback" not in no_token.stderr
    wrong = run_cli(conf, "pull", GATED_REPO, env=cli_env(standin.url, HF_TOKEN="hf_other"))
    assert wrong.returncode == 1 and "your token has no access yet" in wrong.stderr
    granted = run_cli(conf, "pull", GATED_REPO, env=cli_env(standin.url, HF_TOKEN="hf_granted"))
    assert granted.returncode == 0, granted.stderr
    pulled = conf.parent / "models" / GATED_REPO / "g-Q4_K_M.gguf"
    assert pulled.is_file()
    pulled.unlink()
    home = conf.parent / "hf-home"  # the token file `hf auth login` writes, no HF_TOKEN
    home.mkdir()
    (home / "token").write_text("hf_granted\n")
    from_file = run_cli(conf, "pull", GATED_REPO, env=cli_env(standin.url, HF_HOME=str(home)))
    assert from_file.returncode == 0, from_file.stderr
    assert pulled.is_file()


def test_clear_errors_never_a_traceback(standin: StandinHub, conf: Path) -> None:
    env = cli_env(standin.url)
    cases = {
        ("llamadash-test/nope",): (1, "no model llamadash-test/nope on"),
        (TEXT_REPO,): (1, "holds no GGUF model"),
        (f"{TINY_REPO}:Q2_K",): (1, "has no quant Q2_K (it has: Q4_K_M, Q6_K, Q8_0, IQ4_XS)"),
        ("not a ref",): (2, "not a model reference"),
    }
    for argv, (code, message) in cases.items():
        ran = run_cli(conf, "pull", *argv, env=env)
        assert (ran.returncode, "Traceback" in ran.stderr) == (code, False), ran.stderr
        assert message in ran.stderr


def test_network_down_fails_fast(conf: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    began = time.monotonic()
    ran = run_cli(conf, "pull", TINY_REPO, env=cli_env(f"http://127.0.0.1:{port}"))
    assert ran.returncode == 1 and "cannot reach http://127.0.0.1" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
    assert time.monotonic() - began < 10  # not the Hub client's ~25 s of retries


def test_checksum_mismatch_removes_the_download(
    standin: StandinHub, conf: Path, hub_files: dict[str, Path]
) -> None:
    standin._sha[hub_files["tiny"]] = "0" * 64  # the tree now claims another sha256
    ran = run_cli(conf, "pull", TINY_REPO, env=cli_env(standin.url))
    assert ran.returncode == 1 and "is not the Hub's" in ran.stderr, ran.stderr
    assert list((conf.parent / "models" / TINY_REPO).iterdir()) == []


def test_profile_is_appended_keeping_every_line(standin: StandinHub, conf: Path) -> None:
    before = conf.read_text()
    ran = run_cli(conf, "pull", TINY_REPO, "--profile", env=cli_env(standin.url))
    assert ran.returncode == 0, ran.stderr
    after = conf.read_text()
    assert after.startswith(before)
    assert after[len(before) :] == (
        "\n[tiny-q4_k_m]\nname = tiny-GGUF (Q4_K_M)\n"
        f"model = {TINY_REPO}/tiny-Q4_K_M.gguf\nhf = {TINY_REPO}:Q4_K_M\nctx = 2048\n"
    )
    assert "llamadash switch tiny-q4_k_m" in ran.stdout
    taken = run_cli(conf, "pull", TINY_REPO, "--profile", "old", env=cli_env(standin.url))
    assert taken.returncode == 2 and "exists already" in taken.stderr
    assert conf.read_text() == after
    assert os.path.exists(conf.parent / "models" / TINY_REPO / "tiny-Q4_K_M.gguf")


def test_progress_on_a_terminal_shows_bytes_rate_and_eta(standin: StandinHub, conf: Path) -> None:
    import pty

    standin.rate = 4_000_000  # ~1.6 s for 6 MiB: several redraws
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llamadash",
            "--models-conf",
            str(conf),
            "pull",
            f"{TINY_REPO}:IQ4_XS",
        ],
        env=cli_env(standin.url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert child.wait(timeout=60) == 0
    os.close(leader)
    text = seen.decode()
    redraws = [part for part in text.split("\r") if "MB/s" in part]
    assert len(redraws) >= 3, text
    assert "big-IQ4_XS.gguf" in redraws[-1] and "6.3/6.3 MB" in redraws[-1]
    assert all("ETA" in part for part in redraws)


def test_fit_picks_the_largest_quant_within_the_budget(standin: StandinHub, conf: Path) -> None:
    def pull_fit(budget: str) -> subprocess.CompletedProcess[str]:
        env = cli_env(standin.url, LLAMADASH_MEMORY_BUDGET=budget)
        argv = ["--models-conf", str(conf), "pull", TINY_REPO, "--fit", "--json"]
        return subprocess.run(
            [sys.executable, "-m", "llamadash", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    big = pull_fit("10MB")  # the 6 MiB IQ4_XS × 1.25 fits in 10 MiB
    assert big.returncode == 0, big.stderr
    assert json.loads(big.stdout)["quant"] == "IQ4_XS"
    assert "--fit: budget 10 MiB (memory_budget)" in big.stderr
    small = pull_fit("2MB")  # only the ~0.5 MB ones: the best ranked of the largest
    assert json.loads(small.stdout)["quant"] in ("Q4_K_M", "Q8_0")
    none = pull_fit("100kB")
    assert none.returncode == 1 and "no quant of" in none.stderr and "an estimate" in none.stderr
    both = run_cli(conf, "pull", f"{TINY_REPO}:Q8_0", "--fit", env=cli_env(standin.url))
    assert both.returncode == 2 and "--fit chooses the quant itself" in both.stderr


def test_pull_a_profile_fetches_the_model_its_hf_key_names(standin: StandinHub, conf: Path) -> None:
    env = cli_env(standin.url)
    with conf.open("a") as handle:
        handle.write(
            f"\n[t]\nmodel = {TINY_REPO}/tiny-Q4_K_M.gguf\nhf = hf.co/{TINY_REPO}:q4_k_m\n"
            f"\n[wrong]\nmodel = {TINY_REPO}/tiny-Q4_K_M.gguf\nhf = {TINY_REPO}:Q8_0\n"
        )
    listed = run_cli(conf, "models", env=env)
    assert "[model missing: llamadash pull t]" in listed.stdout, listed.stdout
    assert "[model missing]" in listed.stdout  # [old] names no source
    ran = run_cli(conf, "pull", "t", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["path"] == str(
        conf.parent / "models" / TINY_REPO / "tiny-Q4_K_M.gguf"
    )
    assert "[model missing: llamadash pull t]" not in run_cli(conf, "models", env=env).stdout
    wrong = run_cli(conf, "pull", "wrong", env=env)
    assert wrong.returncode == 1 and "but the profile's model is tiny-Q4_K_M.gguf" in wrong.stderr
    no_source = run_cli(conf, "pull", "old", env=env)
    assert no_source.returncode == 2 and "profile set old hf=USER/REPO:QUANT" in no_source.stderr


def test_a_dropped_connection_keeps_the_partial_and_the_next_pull_continues(
    standin: StandinHub, conf: Path, hub_files: dict[str, Path]
) -> None:
    env = cli_env(standin.url)
    standin.drop_after = 2_000_000
    dropped = run_cli(conf, "pull", f"{TINY_REPO}:IQ4_XS", env=env)
    assert dropped.returncode == 1, dropped.stderr
    assert "the connection failed after 2,000,000 of 6,291,456 bytes" in dropped.stderr
    assert "run the pull again to continue" in dropped.stderr and "Traceback" not in dropped.stderr
    partial = conf.parent / "models" / TINY_REPO / "big-IQ4_XS.gguf.partial"
    assert partial.stat().st_size == 2_000_000
    standin.drop_after = 0
    again = run_cli(conf, "pull", f"{TINY_REPO}:IQ4_XS", env=env)
    assert again.returncode == 0, again.stderr
    assert sha256(partial.with_suffix("")) == sha256(hub_files["big"])


def test_a_second_pull_of_the_same_file_is_refused_while_the_first_writes(
    standin: StandinHub, conf: Path
) -> None:
    standin.rate = 2_000_000  # ~3 s: the first is still writing when the second starts
    argv = [
        sys.executable,
        "-m",
        "llamadash",
        "--models-conf",
        str(conf),
        "pull",
        f"{TINY_REPO}:IQ4_XS",
    ]
    first = subprocess.Popen(
        argv, env=cli_env(standin.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    partial = conf.parent / "models" / TINY_REPO / "big-IQ4_XS.gguf.partial"
    deadline = time.monotonic() + 30
    while not (partial.is_file() and partial.stat().st_size > 0):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = run_cli(conf, "pull", f"{TINY_REPO}:IQ4_XS", env=cli_env(standin.url))
    assert second.returncode == 1 and "another pull is writing" in second.stderr
    assert first.wait(timeout=60) == 0


def test_switching_to_a_missing_model_with_a_source_says_how_to_get_it(
    standin: StandinHub, conf: Path, llama_server_bin: Path
) -> None:
    with conf.open("a") as handle:
        handle.write(f"\n[t]\nmodel = {TINY_REPO}/tiny-Q4_K_M.gguf\nhf = {TINY_REPO}:Q4_K_M\n")
    env = cli_env(standin.url, LLAMA_SERVER=str(llama_server_bin), LLAMADASH_RUNTIME="process")
    ran = run_cli(conf, "switch", "t", env=env)
    assert ran.returncode == 1, ran.stderr
    assert "model file not found" in ran.stderr and "get it with: llamadash pull t" in ran.stderr


def test_an_unwritable_models_dir_is_one_line_not_a_traceback(
    standin: StandinHub, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where models_dir should be\n")
    conf = tmp_path / "models.conf"
    conf.write_text(f"[llamadash]\nmodels_dir = {blocker}\nstate_dir = {tmp_path / 'state'}\n")
    ran = run_cli(conf, "pull", TINY_REPO, env=cli_env(standin.url))
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr
    assert f"error: cannot write {blocker}" in ran.stderr
