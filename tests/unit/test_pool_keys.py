"""The pool's settings and profile keys: read as typed values, wrong ones named with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import load_profiles, parse_profiles
from llamadash.core.settings import load_settings


def test_pool_profile_keys_are_typed() -> None:
    profiles = parse_profiles(
        "[a]\nmodel = a.gguf\npin = yes\nttl = 90\ngpus = 0, 1\nport = 8123\n[b]\nmodel = b.gguf\n"
    )
    a, b = profiles.get("a"), profiles.get("b")
    assert a is not None and b is not None
    assert (a.pin, a.ttl, a.gpus, a.port) == (True, 90.0, ("0", "1"), 8123)
    assert (b.pin, b.ttl, b.gpus, b.port) == (False, 0.0, (), None)
    assert "--port" not in a.server_args("a.gguf")  # the runtimes write the port


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("pin = maybe", "want true or false"),
        ("ttl = -1", "want seconds >= 0"),
        ("ttl = soon", "not a number of seconds"),
        ("gpus = first", "not a device id: 'first'"),
        ("port = 80", "want a port 1024-65535"),
        ("port = x", "not a whole number"),
    ],
)
def test_a_bad_pool_key_names_its_line(line: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as error:
        parse_profiles(f"[a]\nmodel = a.gguf\n{line}\n")
    assert error.value.line == 3


def _settings(tmp_path: Path, lines: str) -> object:
    conf = tmp_path / "models.conf"
    conf.write_text(f"[llamadash]\n{lines}\n[a]\nmodel = m.gguf\n")
    return load_settings(load_profiles(conf), environ={})


def test_pool_settings_defaults_and_values(tmp_path: Path) -> None:
    default = _settings(tmp_path, "")
    assert default.max_instances == 1  # type: ignore[attr-defined]
    assert default.ports == range(8100, 8200)  # type: ignore[attr-defined]
    assert default.memory_budget == "auto"  # type: ignore[attr-defined]
    custom = _settings(tmp_path, "max_instances = 3\nport_range = 9000-9001\nmemory_budget = 8GiB")
    assert custom.max_instances == 3  # type: ignore[attr-defined]
    assert custom.ports == range(9000, 9002)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("max_instances = 0", "want 1 or more"),
        ("port_range = 9000", "want LOW-HIGH"),
        ("port_range = 9001-9000", "want LOW-HIGH"),
        ("memory_budget = lots", "not a size: 'lots'"),
        ("memory_reserve = auto", "not a size: 'auto'"),
        ("max_restarts = -1", "want 0 or more"),
    ],
)
def test_a_bad_pool_setting_is_refused(tmp_path: Path, line: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _settings(tmp_path, line)
