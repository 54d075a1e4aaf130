"""Wall time of a one-shot ``llamadash run`` through a running owner, against the bare interpreter.

Starts a real owner (``llamadash serve``, process runtime, the tiny GGUF made ready once),
then runs, interleaved for several rounds: ``python -c pass``, ``python -c 'import httpx'``
(what an httpx-based chat client would pay before its first byte) and
``llamadash run tiny hi -n 1`` (resolve, ask the owner, read the GGUF's template, one
streamed answer). Prints median and slowest per command, the ratio to the baseline and CPU.

    python bench/bench_run.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cli import (  # importable through the path above: a sibling script
    CONF,
    LLAMADASH,
    free_port,
    print_table,
    run_ms,
    time_rounds,
    user_env,
    wait_listening,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    from llamadash.core.runtime.binary import find_llama_server
    from tests.support.tiny_gguf import write_tiny_gguf

    # The binary the process runtime would use, found the same way (a clear error if none).
    env = {**user_env(), "LLAMA_SERVER": str(find_llama_server(os.environ.get("LLAMA_SERVER", "")))}
    with tempfile.TemporaryDirectory(prefix="ldbench-run-") as tmp:
        write_tiny_gguf(Path(tmp) / "tiny.gguf")
        api_port = free_port()
        conf = Path(tmp) / "models.conf"
        conf.write_text(CONF.format(dir=tmp, port=free_port(), api_port=api_port, pid=os.getpid()))
        cli = [str(LLAMADASH), "--models-conf", str(conf)]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import httpx'": [sys.executable, "-c", "import httpx"],
            "llamadash run tiny hi -n 1": [*cli, "run", "tiny", "hi", "-n", "1"],
        }
        serve = subprocess.Popen(
            [*cli, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_listening(api_port, serve)
            run_ms([*cli, "switch", "tiny"], env)  # ready before the timed rounds
            times, cpu = time_rounds(commands, env, args.rounds)
        finally:
            serve.terminate()
            serve.wait(30)
            subprocess.run([*cli, "stop"], env=env, capture_output=True, check=False)
    print(f"wall ms per run, {args.rounds} rounds interleaved, through a running owner")
    base = print_table(times, cpu)
    one_shot = statistics.median(times["llamadash run tiny hi -n 1"])
    print(f"run one-shot: {one_shot:.1f} ms median, {one_shot - base:.1f} ms over the interpreter")
    return 0


if __name__ == "__main__":
    sys.exit(main())
