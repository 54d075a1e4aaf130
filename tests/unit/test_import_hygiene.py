"""The engine stays free of UI: importing the core, collectors, API or CLI loads no Textual."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import llamadash

HEADLESS = [
    "llamadash.core.context",
    "llamadash.core.instance",
    "llamadash.core.runtime.compose",
    "llamadash.core.runtime.process",
    "llamadash.collectors.gpu",
    "llamadash.collectors.system",
    "llamadash.collectors.container",
    "llamadash.collectors.server",
    "llamadash.cli",
    "llamadash.commands.query",
    "llamadash.commands.switching",
    "llamadash.commands.run",
    "llamadash.commands.bench",
    "llamadash.commands.service",
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
        "import sys; import llamadash.core.context, llamadash.core.instance; "
        "sys.exit(1 if any(m.startswith(('starlette', 'uvicorn')) for m in sys.modules) else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-500:]


ABOVE_THE_CORE = ("llamadash.collectors", "llamadash.api", "llamadash.ui", "llamadash.commands")


def test_the_core_imports_nothing_above_it_not_even_inside_a_function() -> None:
    """The layers contract (pyproject.toml) by hand: a lazy import counts too."""
    core = Path(llamadash.__file__).parent / "core"
    found = []
    for path in sorted(core.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                if name == "llamadash.cli" or name.startswith(ABOVE_THE_CORE):
                    found.append(f"{path.name}:{node.lineno} imports {name}")
    assert found == []


def test_the_cli_and_hub_verbs_import_no_hub_client_until_they_run() -> None:
    """huggingface_hub (~0.3 s) is imported inside the Hub verbs and the dashboard's pull
    workers, never by the parser or the dashboard's start-up."""
    code = (
        "import sys, llamadash.cli, llamadash.commands.hub_pull, llamadash.ui.app; "
        "llamadash.cli.build_parser().parse_args(['pull', 'a/b']); "
        "sys.exit(1 if {'huggingface_hub', 'llamadash.hub.remote'} & set(sys.modules) else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-500:]


# What the forwarding path (a verb sent to a running owner: status, models, switch, stop,
# ps, start, restart) loads of llamadash: models.conf, the owner lock, one loopback request.
LIGHT_PATH = {
    "llamadash",
    "llamadash.cli",
    "llamadash.commands",
    "llamadash.commands.common",
    "llamadash.commands.instances",
    "llamadash.commands.owner",
    "llamadash.commands.query",
    "llamadash.commands.switching",
    "llamadash.core",
    "llamadash.core.flags",
    "llamadash.core.hostnames",
    "llamadash.core.http1",
    "llamadash.core.inifile",
    "llamadash.core.owned",
    "llamadash.core.profile_values",
    "llamadash.core.profiles",
    "llamadash.core.settings",
    "llamadash.core.statefile",
}
# What it must not load: each costs a forwarded verb milliseconds (typing ~5, difflib ~1,
# asyncio ~15, httpx ~170) and none of it is used there.
NOT_ON_THE_LIGHT_PATH = (
    "typing",
    "difflib",
    "asyncio",
    "subprocess",
    "threading",
    "logging",
    "statistics",
    "httpx",
    "docker",
    "psutil",
    "starlette",
    "uvicorn",
    "textual",
    "pydantic",
)
FORWARDED_VERBS = ("status", "models", "switch", "stop", "ps", "start", "restart")


def test_the_forwarding_path_loads_only_what_it_uses() -> None:
    code = (
        "import sys, json; before = set(sys.modules); "
        "from llamadash.cli import parse_args; from llamadash.commands import verb_function; "
        f"[(parse_args([v, 'x'] if v in ('start', 'restart') else [v]), verb_function(v))"
        f" for v in {FORWARDED_VERBS!r}]; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-800:]
    loaded = set(json.loads(done.stdout))
    ours = {m for m in loaded if m == "llamadash" or m.startswith("llamadash.")}
    assert ours == LIGHT_PATH, (
        f"new: {sorted(ours - LIGHT_PATH)}, gone: {sorted(LIGHT_PATH - ours)}"
    )
    heavy = sorted(m for m in loaded if m.split(".")[0] in NOT_ON_THE_LIGHT_PATH)
    assert heavy == []
