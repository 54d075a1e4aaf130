"""The engine is resolved the docker CLI's way, from contexts the real docker CLI wrote."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from llamadash.core.runtime.docker_host import (
    DEFAULT_SOCKET,
    ContextError,
    engine_address,
    engine_environ,
)
from tests.conftest import missing


def docker_cli(config: Path, *args: str) -> None:
    """Run the real docker CLI on a private config dir (contexts need no engine)."""
    if shutil.which("docker") is None:
        missing("the docker CLI", "apt-get install docker.io (make testbed does)")
    subprocess.run(
        ["docker", *args], env={"DOCKER_CONFIG": str(config), "PATH": "/usr/bin:/bin"}, check=True
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A docker config dir with the context ``far`` (on a socket) and ``tls`` (tcp + certs)."""
    home = tmp_path / "docker-config"
    docker_cli(home, "context", "create", "far", "--docker", "host=unix:///run/far.sock")
    certs = tmp_path / "certs"
    certs.mkdir()
    if shutil.which("openssl") is None:
        missing("openssl", "apt-get install openssl")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", certs / "key.pem", "-out", certs / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    shutil.copy(certs / "cert.pem", certs / "ca.pem")  # self-signed: its own CA
    docker_cli(
        home,
        "context",
        "create",
        "tls",
        "--docker",
        f"host=tcp://127.0.0.1:2376,ca={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem",
    )
    return home


def test_a_url_wins_over_the_environment_and_drops_the_context(config: Path) -> None:
    environ = {"DOCKER_CONFIG": str(config), "DOCKER_HOST": "unix:///a", "DOCKER_CONTEXT": "far"}
    resolved = engine_environ("tcp://127.0.0.1:2375", environ)
    assert resolved["DOCKER_HOST"] == "tcp://127.0.0.1:2375"
    assert "DOCKER_CONTEXT" not in resolved
    assert resolved["DOCKER_CONFIG"] == str(config)  # everything else passes through


def test_a_context_name_is_read_from_the_metadata_the_cli_wrote(config: Path) -> None:
    environ = {"DOCKER_CONFIG": str(config), "DOCKER_HOST": "unix:///elsewhere"}
    assert engine_environ("far", environ)["DOCKER_HOST"] == "unix:///run/far.sock"
    tls = engine_environ("tls", environ)
    assert tls["DOCKER_HOST"] == "tcp://127.0.0.1:2376"
    assert tls["DOCKER_TLS_VERIFY"] == "1"
    written = (config.parent / "certs" / "cert.pem").read_text()
    assert (Path(tls["DOCKER_CERT_PATH"]) / "cert.pem").read_text() == written


def test_without_a_setting_the_cli_precedence_holds(config: Path) -> None:
    base = {"DOCKER_CONFIG": str(config)}
    assert engine_address(engine_environ("", base)) == DEFAULT_SOCKET
    assert engine_environ("", base | {"DOCKER_CONTEXT": "far"})["DOCKER_HOST"].endswith("far.sock")
    both = base | {"DOCKER_CONTEXT": "far", "DOCKER_HOST": "unix:///x"}
    assert engine_environ("", both)["DOCKER_HOST"] == "unix:///x"  # DOCKER_HOST beats a context
    docker_cli(config, "context", "use", "far")
    assert engine_environ("", base)["DOCKER_HOST"] == "unix:///run/far.sock"
    assert engine_environ("default", base)["DOCKER_HOST"] == DEFAULT_SOCKET


def test_an_unknown_context_is_one_line_naming_it(config: Path) -> None:
    with pytest.raises(
        ContextError, match=r"^no docker context named 'nope' \(`docker context ls`"
    ):
        engine_environ("nope", {"DOCKER_CONFIG": str(config)})


def test_a_bad_docker_host_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    from llamadash.core.context import build_engine
    from llamadash.core.inifile import ConfigError

    conf = tmp_path / "models.conf"
    conf.write_text(f"[llamadash]\nruntime = compose\ndocker_host = nope\nstate_dir = {tmp_path}\n")
    (tmp_path / "docker").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
        with pytest.raises(ConfigError, match=r"^docker_host: no docker context named 'nope'"):
            build_engine(conf, {"compose_files": ("compose.yaml",)})
