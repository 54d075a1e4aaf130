"""Command-line parsing, and one real run of the command on a bad models.conf."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llamadash.cli import parse_args
from llamadash.commands.doctor import doctor, machine_checks
from llamadash.commands.owner import EXIT_BY_RESULT, OwnerUnreachableError, owner_address
from llamadash.core.events import Result
from llamadash.core.profiles import load_profiles
from llamadash.core.settings import load_settings

LLAMADASH = Path(sys.executable).with_name("llamadash")


@pytest.mark.parametrize(
    "argv",
    [
        ["--models-conf", "a.conf", "--runtime", "process", "--json", "status"],
        ["status", "--models-conf", "a.conf", "--runtime", "process", "--json"],
        ["--models-conf", "a.conf", "status", "--runtime", "process", "--json"],
    ],
)
def test_common_options_count_before_or_after_the_verb(argv: list[str]) -> None:
    # Regression: given before the verb, they were overwritten by the verb's defaults, so
    # `llamadash --models-conf a.conf status` silently read ./models.conf.
    args = parse_args(argv)
    assert (args.verb, args.models_conf, args.runtime, args.json) == (
        "status",
        Path("a.conf"),
        "process",
        True,
    )


def test_defaults_without_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LLAMADASH_MODELS_CONF", raising=False)
    monkeypatch.chdir(tmp_path)
    args = parse_args(["models"])
    assert (args.runtime, args.json) == (None, False)
    assert args.models_conf.name == "models.conf"
    dashboard = parse_args([])
    assert dashboard.verb is None and dashboard.models_conf.name == "models.conf"


def test_a_bad_line_before_the_verb_is_reported_with_its_line(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("[tiny]\nmodel = tiny.gguf\nthis line has no equals sign\n")
    done = subprocess.run(
        [str(LLAMADASH), "--models-conf", str(conf), "models"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],  # where ./models.conf is fine
        check=False,
    )
    assert done.returncode == 2, done
    assert f"{conf}:3" in done.stderr or "line 3" in done.stderr, done.stderr


def test_a_reader_that_leaves_early_is_not_a_traceback() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` having exited: every write fails with EPIPE
    done = subprocess.run(
        [str(LLAMADASH), "models", "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    os.close(write_end)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1


def test_doctor_names_the_real_settings_key_for_a_busy_port(tmp_path: Path) -> None:
    # Regression: it advised "set server_port", a key models.conf does not have.
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        conf = tmp_path / "models.conf"
        conf.write_text(
            f"[llamadash]\nport = {port}\napi_port = {port}\n\n[tiny]\nmodel = t.gguf\n"
        )
        settings = load_settings(load_profiles(conf), environ={})
        checks = {c.name: c for c in machine_checks(settings)}
    assert "set port in [llamadash]" in checks["server port"].detail
    assert "set api_port in [llamadash]" in checks["api port"].detail
    assert not checks["server port"].ok


def test_every_switch_result_has_an_exit_code() -> None:
    # The forwarding path keys exit codes by Result's values without importing core.events.
    assert set(EXIT_BY_RESULT) == {r.value for r in Result}
    assert EXIT_BY_RESULT[Result.SUPERSEDED.value] == 3


@pytest.mark.parametrize(
    ("api", "target"),
    [
        ("http://127.0.0.1:8081", ("127.0.0.1", 8081)),
        ("http://0.0.0.0:9000", ("127.0.0.1", 9000)),
        ("http://[::]:9000", ("::1", 9000)),
        ("http://[::1]:9001", ("::1", 9001)),
    ],
)
def test_the_owner_is_reached_where_it_listens(api: str, target: tuple[str, int]) -> None:
    assert owner_address(api) == target


def test_an_owner_url_without_a_port_is_a_clear_error() -> None:
    with pytest.raises(OwnerUnreachableError, match="no usable API URL"):
        owner_address("http://localhost")


def test_only_the_verbs_module_is_imported() -> None:
    code = (
        "import sys; from llamadash.commands import verb_function; verb_function('status'); "
        "print(' '.join(m for m in sys.modules if m.startswith('llamadash.commands.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert sorted(done.stdout.split()) == [
        "llamadash.commands.common",
        "llamadash.commands.owner",
        "llamadash.commands.query",
    ]


@pytest.mark.parametrize(
    ("forced", "runtime"), [("process", "process"), (None, "process"), ("compose", "compose")]
)
def test_doctor_asks_for_docker_only_when_the_compose_runtime_needs_it(
    forced: str | None,
    runtime: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Regression: "install Docker or use --runtime process" while the process runtime was
    # the one in use (forced, or what auto fell back to).
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    conf = tmp_path / "models.conf"
    conf.write_text("[tiny]\nmodel = t.gguf\n")
    argv = ["doctor", "--json", "--models-conf", str(conf)]
    doctor(parse_args(argv + (["--runtime", forced] if forced else [])))
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["runtime"]["detail"].startswith(f"llamadash will use the {runtime} runtime")
    engine = checks["docker engine"]
    assert not engine["ok"]
    if runtime == "process":
        assert not engine["needed"]
        where = f"unix://{tmp_path}/no-docker.sock"
        assert engine["detail"].startswith(f"no Docker engine answers at {where} (")
        assert engine["detail"].endswith(")"), engine  # the cause, and no advice
    else:
        assert engine["needed"]
        assert engine["detail"].endswith("install or start Docker, or use --runtime process")
