"""Run every benchmark in turn; each prints its own ratios against a same-run baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = (
    "bench_http_poll.py",
    "bench_switch.py",
    "bench_api_status.py",
    "bench_ui_cpu.py",
    "bench_owner_idle.py",
    "bench_cli.py",
    "bench_proxy.py",
    "bench_pull.py",
    "bench_run.py",
    "bench_web.py",
)


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"=== {name}", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / name)], check=False).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
