"""The "stop it with: …" command: the entry point and models.conf as typed from here."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from llamadash.commands import invocation


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout after ./start.sh: .venv/bin/llamadash, not on PATH; cwd is the checkout."""
    root = tmp_path / "my checkout"
    program = root / ".venv" / "bin" / "llamadash"
    program.parent.mkdir(parents=True)
    program.write_text('#!/bin/sh\necho "ran: $*"\n')
    program.chmod(0o755)
    (root / "models.conf").write_text("")
    monkeypatch.chdir(root)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("LLAMADASH_MODELS_CONF", raising=False)
    monkeypatch.setattr(invocation.sys, "argv", [str(program)])
    return root


def test_after_start_sh_the_venv_entry_point_relative_to_the_checkout(checkout: Path) -> None:
    line = invocation.again("stop", models_conf=checkout / "models.conf")
    assert line == ".venv/bin/llamadash stop"
    # It runs as printed, from here.
    done = subprocess.run(shlex.split(line), capture_output=True, text=True, check=True)
    assert done.stdout == "ran: stop\n"


def test_another_models_conf_and_a_forced_runtime_are_passed_on(
    checkout: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "other confs" / "big.conf"
    line = invocation.again("stop", models_conf=elsewhere, runtime="process")
    assert shlex.split(line) == [
        ".venv/bin/llamadash",
        "stop",
        "--models-conf",
        str(elsewhere),
        "--runtime",
        "process",
    ]
    below = invocation.again("stop", models_conf=checkout / "confs" / "a.conf")
    assert below == ".venv/bin/llamadash stop --models-conf confs/a.conf"


def test_the_default_conf_given_relatively_or_by_environment_is_left_out(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invocation.again("stop", models_conf=Path("models.conf")).endswith(" stop")
    monkeypatch.setenv("LLAMADASH_MODELS_CONF", str(checkout / "confs" / "a.conf"))
    assert invocation.again("stop", models_conf=checkout / "confs" / "a.conf").endswith(" stop")
    # The environment names another file now: ./models.conf must be named.
    line = invocation.again("stop", models_conf=checkout / "models.conf")
    assert line.endswith("stop --models-conf ./models.conf")


def test_from_another_directory_the_absolute_path_quoted(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    line = invocation.again("stop", models_conf=checkout / "models.conf")
    program = checkout / ".venv" / "bin" / "llamadash"
    assert shlex.split(line) == [
        str(program),
        "stop",
        "--models-conf",
        str(checkout / "models.conf"),
    ]
    done = subprocess.run(shlex.split(line), capture_output=True, text=True, check=True)
    assert done.stdout.startswith("ran: stop --models-conf ")


def test_on_path_the_plain_name(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{checkout / '.venv' / 'bin'}:/usr/bin:/bin")
    assert invocation.again("stop", models_conf=checkout / "models.conf") == "llamadash stop"


def test_another_llamadash_on_path_is_not_taken_for_this_one(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "bin" / "llamadash"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", f"{other.parent}:/usr/bin:/bin")
    line = invocation.again("stop", models_conf=checkout / "models.conf")
    assert line == ".venv/bin/llamadash stop"
