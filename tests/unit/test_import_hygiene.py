"""The engine stays free of UI: importing the core, collectors, API or CLI loads no Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEADLESS = [
    "llamadash.core.context",
    "llamadash.core.switcher",
    "llamadash.core.runtime.compose",
    "llamadash.core.runtime.process",
    "llamadash.collectors.gpu",
    "llamadash.collectors.system",
    "llamadash.collectors.container",
    "llamadash.collectors.server",
    "llamadash.cli",
    "llamadash.commands.query",
    "llamadash.commands.switching",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_module_does_not_load_textual(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{module} loaded: {done.stdout.strip()} {done.stderr[-500:]}"


def test_core_does_not_load_starlette() -> None:
    code = (
        "import sys; import llamadash.core.context, llamadash.core.switcher; "
        "sys.exit(1 if any(m.startswith(('starlette', 'uvicorn')) for m in sys.modules) else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-500:]
