"""``llamadash service install|status|uninstall`` run as a user runs them, with the real tools.

systemctl is the real one, reachable by no user systemd (an empty runtime dir, no bus
address): what this machine has anyway (no systemd as PID 1), and what a developer's machine
gets in these tests, so none of them touches the user's own services. Without systemd as
PID 1, systemctl still enables and disables on the unit files themselves.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

import llamadash
from tests.conftest import missing

BOOTED_WITH_SYSTEMD = Path("/run/systemd/system").is_dir()
MANUAL = "systemctl --user daemon-reload && systemctl --user enable --now llamadash.service"


@dataclass
class Home:
    """A user's folders for one test: config, state, runtime dir, home."""

    root: Path
    conf: Path

    @property
    def unit(self) -> Path:
        return self.root / "config" / "systemd" / "user" / "llamadash.service"

    @property
    def wants(self) -> Path:
        return self.unit.parent / "default.target.wants" / "llamadash.service"

    def env(self, **more: str) -> dict[str, str]:
        runtime = self.root / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        keep = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
        return {
            **keep,
            "HOME": str(self.root / "home"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_STATE_HOME": str(self.root / "state"),
            "XDG_RUNTIME_DIR": str(runtime),
            **more,
        }

    def run(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "llamadash", "--models-conf", str(self.conf), *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=self.env(**env),
        )


@pytest.fixture
def home(tmp_path: Path) -> Home:
    if shutil.which("systemctl") is None:
        missing("systemctl", "apt-get install systemd")
    conf_dir = tmp_path / "my project"
    conf_dir.mkdir()
    conf = conf_dir / "models.conf"
    conf.write_text(
        "[llamadash]\nruntime = process\n\n[tiny]\nmodel = tiny.gguf\n\n[gemma]\nmodel = g.gguf\n"
    )
    (tmp_path / "home").mkdir()
    return Home(tmp_path, conf)


def test_install_status_uninstall_without_a_reachable_user_systemd(home: Home) -> None:
    printed = home.run("service", "install", "--print", "--profile", "tin")
    assert printed.returncode == 0 and not home.unit.exists(), printed.stderr

    installed = home.run("service", "install", "--profile", "tin")
    assert installed.returncode == 0, installed.stderr
    assert home.unit.read_text() == printed.stdout
    assert "ExecStart=" in printed.stdout and " serve --switch tiny" in printed.stdout
    assert f"WorkingDirectory={home.conf.parent}" in printed.stdout
    out = installed.stdout
    assert f"wrote {home.unit}" in out
    assert "no user systemd reachable here" in out and MANUAL in out
    assert "loginctl enable-linger" in out
    if not BOOTED_WITH_SYSTEMD:  # systemctl enabled it on the files alone
        assert home.wants.resolve() == home.unit

    status = home.run("service", "status", "--json")
    data = json.loads(status.stdout)
    assert data["installed"] is True and data["current"] is True  # its profile: tiny
    # No manager: systemctl reads the files; a booted machine's systemctl needs the bus.
    if BOOTED_WITH_SYSTEMD:
        assert data["enabled"].startswith("unknown: ")
    else:
        assert data["enabled"] == "enabled"
    assert data["active"].startswith("unknown: no user systemd here")
    assert data["owner"] is None
    human = home.run("service", "status")
    assert human.stdout.splitlines()[0] == f"installed: {home.unit} (as install would write it now)"

    again = home.run("service", "install", "--profile", "tiny")
    assert f"{home.unit} is already up to date" in again.stdout

    removed = home.run("service", "uninstall")
    assert removed.returncode == 0 and f"removed {home.unit}" in removed.stdout
    assert not home.unit.exists() and not home.wants.is_symlink()
    gone = home.run("service", "uninstall")
    assert (gone.returncode, gone.stdout.strip()) == (0, f"not installed (no {home.unit})")
    assert json.loads(home.run("service", "status", "--json").stdout)["installed"] is False


def test_a_changed_unit_is_shown_replaced_and_kept_as_prev(home: Home) -> None:
    assert home.run("service", "install").returncode == 0
    edited = home.unit.read_text().replace("RestartSec=5", "RestartSec=5\nNice=10")
    home.unit.write_text(edited)
    assert json.loads(home.run("service", "status", "--json").stdout)["current"] is False

    replaced = home.run("service", "install", "--profile", "gemma")
    assert replaced.returncode == 0, replaced.stderr
    assert "-Nice=10" in replaced.stdout.splitlines()
    assert "+ExecStart=" in replaced.stdout and "it is llamadash's file" in replaced.stdout
    assert home.unit.with_name("llamadash.service.prev").read_text() == edited  # no line lost
    assert "Nice=10" not in home.unit.read_text() and "--switch gemma" in home.unit.read_text()


def test_without_systemctl_the_unit_is_written_and_the_commands_printed(home: Home) -> None:
    done = home.run("service", "install", PATH=str(home.root / "no-tools"))
    assert done.returncode == 0, done.stderr
    assert "systemctl not found" in done.stdout and MANUAL in done.stdout
    assert home.unit.is_file()
    status = home.run("service", "status", "--json", PATH=str(home.root / "no-tools"))
    assert json.loads(status.stdout)["enabled"] == "unknown: systemctl not found"


def test_an_unknown_profile_writes_nothing_and_names_the_near_ones(home: Home) -> None:
    done = home.run("service", "install", "--profile", "gema-x")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
    assert "Valid ids: tiny, gemma" in done.stderr
    assert not home.unit.parent.exists()


def test_the_launchd_agent_is_written_with_plistlib_and_read_back(home: Home) -> None:
    done = home.run("service", "install", "--launchd", "--profile", "tiny", PATH="/no-tools")
    assert done.returncode == 0, done.stderr
    plist = home.root / "home" / "Library" / "LaunchAgents" / "local.llamadash.plist"
    data = plistlib.loads(plist.read_bytes())
    assert data["ProgramArguments"][-2:] == ["--switch", "tiny"]
    assert data["ProgramArguments"][0] == os.path.abspath(sys.executable)
    assert data["WorkingDirectory"] == str(home.conf.parent)
    assert "launchctl not found" in done.stdout
    assert f"launchctl bootstrap gui/{os.getuid()} {plist}" in done.stdout
    status = json.loads(
        home.run("service", "status", "--launchd", "--json", PATH="/no-tools").stdout
    )
    assert (status["manager"], status["installed"], status["current"]) == ("launchd", True, True)
    assert home.run("service", "uninstall", "--launchd").returncode == 0
    assert not plist.exists()


def test_a_service_serve_would_refuse_is_not_installed(home: Home) -> None:
    home.conf.write_text(
        home.conf.read_text().replace("[llamadash]\n", "[llamadash]\napi_host = ::\n")
    )
    done = home.run("service", "install", LLAMADASH_API_TOKEN="only-in-my-shell")
    assert done.returncode == 2 and "sets no api_token" in done.stderr
    assert "LLAMADASH_API_TOKEN is never written into the unit" in done.stderr
    assert not home.unit.parent.exists()


def test_a_command_that_imports_llamadash_only_from_here_is_not_installed(home: Home) -> None:
    """A checkout run from its root (``python -m llamadash`` finds it in the current folder):
    the unit runs in the project folder, where it would not, so nothing is written."""
    checkout = home.root / "checkout"
    checkout.mkdir()
    (checkout / "llamadash").symlink_to(Path(llamadash.__file__).parent)
    dependencies = sysconfig.get_paths()["purelib"]  # no .pth read from PYTHONPATH: no llamadash
    cli_args = ["--models-conf", str(home.conf), "service", "install"]
    done = subprocess.run(
        [str(Path(sys.base_prefix) / "bin" / "python3"), "-m", "llamadash", *cli_args],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=home.env(PYTHONPATH=dependencies),
    )
    assert done.returncode == 2, done.stderr
    assert f"the service's command would fail in {home.conf.parent}" in done.stderr
    assert "No module named llamadash" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not home.unit.parent.exists()
