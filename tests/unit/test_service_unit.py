"""The login service's files: the systemd unit's quoting, the launchd plist, the environment.

``systemd-analyze verify`` (Debian's systemd package) reads the rendered unit as systemd
would: missing here it skips, under CI=true it fails (tests/conftest.py ``missing``).
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from llamadash.commands.service import service_spec, switch_target
from llamadash.commands.service_managers import Launchd
from llamadash.core.profiles import UnknownProfileError, load_profiles
from llamadash.core.runtime.environ import service_env
from llamadash.core.service_unit import (
    ServiceSpec,
    UnitValueError,
    exec_argv,
    exec_line,
    render_plist,
    render_unit,
)
from llamadash.core.settings import load_settings
from tests.conftest import missing

ODD = [
    "plain",
    "",
    "with space",
    'a "quoted" word',
    "back\\slash\\n not a newline",
    "$HOME and ${PATH}",
    "100% %h %n",
    "it's",
    "semi;colon & pipe | < >",
    "ünïcødé ✓",
    "-leading-dash",
    "trailing\\",
]


def spec_in(folder: Path, environment: dict[str, str] | None = None) -> ServiceSpec:
    """A spec whose paths are all odd: spaces, %, $ and quotes."""
    odd = folder / "my models 100% $USER 'q'"
    return ServiceSpec(
        argv=(sys.executable, "-m", "llamadash", "--models-conf", str(odd / "models.conf")),
        working_dir=odd,
        environment=tuple((environment or {"PATH": "/usr/bin:/bin"}).items()),
        description=f"llamadash serve ({odd / 'models.conf'})",
        log_path=odd / "service.log",
        final_exits=(2,),
    )


@pytest.mark.parametrize("word", ODD)
def test_every_odd_argument_reads_back_as_written(word: str) -> None:
    argv = ("/opt/my python/bin/python3", word, "--switch", word)
    assert exec_argv(f"[Service]\nExecStart={exec_line(argv)}\n") == argv


def test_plain_words_stay_unquoted_and_specifiers_and_variables_are_doubled() -> None:
    line = exec_line(("/opt/100% $X/python3", "-m", "llamadash", "100%", "$HOME"))
    # systemd expands no variable in the program's path: its $ stays single.
    assert line == '"/opt/100%% $X/python3" -m llamadash "100%%" "$$HOME"'


@pytest.mark.parametrize(
    "argv",
    [
        ("relative/python",),
        ("-/usr/bin/python",),
        ("/opt/it's/python",),
        ('/opt/"q"/python',),
        ("/opt/back\\slash/python",),
        ("/bin/py", "new\nline"),
        (),
    ],
)
def test_what_a_unit_cannot_say_is_refused(argv: tuple[str, ...]) -> None:
    with pytest.raises(UnitValueError):
        exec_line(argv)


def test_the_unit_restarts_on_failure_in_its_folder_with_its_environment(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": "unix:///run/my docker.sock", "LLAMA_SERVER": "/x/100%/llama-server"}
    text = render_unit(spec_in(tmp_path, env))
    lines = text.splitlines()
    assert "Restart=on-failure" in lines and "RestartSec=5" in lines
    assert "RestartPreventExitStatus=2" in lines  # bad input: restarting cannot mend it
    assert "WantedBy=default.target" in lines
    assert f"WorkingDirectory={tmp_path}/my models 100%% $USER 'q'" in lines
    assert 'Environment="DOCKER_HOST=unix:///run/my docker.sock"' in lines
    assert 'Environment="LLAMA_SERVER=/x/100%%/llama-server"' in lines
    assert exec_argv(text) == spec_in(tmp_path).argv


def test_the_plist_round_trips_and_runs_no_shell(tmp_path: Path) -> None:
    spec = spec_in(tmp_path, {"DOCKER_HOST": "unix:///d.sock"})
    data = plistlib.loads(Launchd().render(spec).encode())
    assert data == render_plist(spec)
    assert data["ProgramArguments"] == list(spec.argv)
    assert data["RunAtLoad"] is True and data["KeepAlive"] == {"SuccessfulExit": False}
    assert data["EnvironmentVariables"] == {"DOCKER_HOST": "unix:///d.sock"}
    assert data["StandardErrorPath"] == str(spec.log_path)


def test_the_service_gets_what_serve_needs_and_no_secret_nor_session_variable() -> None:
    wanted = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "DOCKER_HOST": "unix:///d.sock",
        "DOCKER_CONFIG": "/c",
        "LLAMA_SERVER": "/bin/llama-server",
        "LLAMADASH_CACHE": "/cache",
        "LLAMADASH_PORT": "8090",
        "XDG_STATE_HOME": "/state",
        "CUDA_VISIBLE_DEVICES": "1",
        "PYTHONPATH": "/src",
    }
    unwanted = {
        "LLAMADASH_API_TOKEN": "secret",
        "HF_TOKEN": "hf_secret",
        "LLAMA_ARGS": "--host 0.0.0.0",
        "LLAMA_API_KEY": "k",
        "SSH_AUTH_SOCK": "/tmp/ssh",
        "XDG_RUNTIME_DIR": "/run/user/0",
        "XDG_SESSION_ID": "3",
        "HOME": "/root",
        "LLAMADASH_MODELS_CONF": "models.conf",
    }
    got = service_env({**unwanted, **wanted})
    assert got == wanted and list(got) == sorted(wanted)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "models.conf"
    path.write_text("[tiny]\nmodel = tiny.gguf\n\n[gemma]\nmodel = gemma.gguf\n")
    return path


def _args(conf: Path, runtime: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(models_conf=conf, runtime=runtime)


def test_the_profile_is_matched_like_the_cli_and_the_command_is_absolute(
    conf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(conf.parent)
    profiles = load_profiles(conf)
    settings = load_settings(profiles, environ={})
    spec = service_spec(_args(Path("models.conf"), "process"), profiles, settings, "tin")
    assert spec.argv == (
        os.path.abspath(sys.executable),
        "-m",
        "llamadash",
        "--models-conf",
        str(conf),
        "--runtime",
        "process",
        "serve",
        "--switch",
        "tiny",
    )
    assert switch_target(spec.argv) == "tiny"
    assert spec.working_dir == conf.parent
    with pytest.raises(UnknownProfileError, match="Valid ids: tiny, gemma"):
        service_spec(_args(conf), profiles, settings, "qwen")
    no_profile = service_spec(_args(conf), profiles, settings, "")
    assert no_profile.argv[-1] == "serve" and switch_target(no_profile.argv) is None


def _verify(unit: Path, runtime_dir: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        missing("systemd-analyze", "apt-get install systemd")
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        [str(tool), "verify", "--user", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)},  # --user needs one
    )


def test_systemd_analyze_verify_accepts_the_rendered_unit(tmp_path: Path) -> None:
    """Even the program's path is odd: systemd finds it only if it unquotes it as written."""
    spec = spec_in(tmp_path, {"PATH": "/usr/bin", "DOCKER_HOST": "unix:///run/a b.sock"})
    spec.working_dir.mkdir()
    program = tmp_path / "bin 100% $HOME" / "python"  # no quotes: systemd refuses them there
    program.parent.mkdir()
    program.symlink_to(sys.executable)
    unit = tmp_path / "llamadash.service"
    unit.write_text(render_unit(replace(spec, argv=(str(program), *spec.argv[1:]))))
    done = _verify(unit, tmp_path / "runtime")
    # Warnings (an unknown key, a bad value) go to stderr with exit 0: none may appear.
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


def test_systemd_analyze_verify_does_check_the_program(tmp_path: Path) -> None:
    """The check above is not vacuous: a missing program is reported."""
    spec = spec_in(tmp_path)
    unit = tmp_path / "llamadash.service"
    unit.write_text(render_unit(replace(spec, argv=(str(tmp_path / "no such python"),))))
    done = _verify(unit, tmp_path / "runtime")
    assert done.returncode != 0 and f"{tmp_path}/no such python" in done.stderr
