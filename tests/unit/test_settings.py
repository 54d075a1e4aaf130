"""Settings precedence: defaults → [llamadash] → LLAMADASH_* env → overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import ProfileSet, load_profiles, parse_profiles
from llamadash.core.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def _profiles(tmp_path: Path, settings_section: str) -> ProfileSet:
    conf = tmp_path / "conf" / "models.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f"[llamadash]\n{settings_section}\n[a]\nmodel = m.gguf\n")
    return load_profiles(conf)


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    ps = _profiles(tmp_path, "")
    s = load_settings(ps, environ={})
    assert s.port == 8080
    assert s.api_port == 8081
    assert s.runtime == "auto"
    assert s.compose_files == ()
    assert s.stop_grace == 3.0
    assert s.api_url == "http://127.0.0.1:8081"
    # relative defaults resolve against the folder of models.conf
    assert s.models_dir == (tmp_path / "conf" / "models").resolve()
    assert s.project_dir == (tmp_path / "conf").resolve()


def test_state_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    s = load_settings(_profiles(tmp_path, ""), environ={})
    assert s.state_dir == tmp_path / "xdg" / "llamadash"


def test_precedence_defaults_conf_env_overrides(tmp_path: Path) -> None:
    ps = _profiles(tmp_path, "port = 9000\napi_port = 9001\nimage = from-conf\nstop_grace = 5")
    conf_only = load_settings(ps, environ={})
    assert (conf_only.port, conf_only.api_port, conf_only.image) == (9000, 9001, "from-conf")
    assert conf_only.stop_grace == 5.0
    assert conf_only.switch_timeout == 900.0  # untouched default

    env = {"LLAMADASH_PORT": "9100", "LLAMADASH_IMAGE": "from-env"}
    with_env = load_settings(ps, environ=env)
    assert (with_env.port, with_env.api_port, with_env.image) == (9100, 9001, "from-env")

    with_flags = load_settings(
        ps, environ=env, overrides={"port": 9200, "image": None, "api_port": None}
    )
    assert with_flags.port == 9200  # the flag wins
    assert with_flags.image == "from-env"  # None flags are ignored
    assert with_flags.api_port == 9001


def test_env_is_upper_case_llamadash_prefix_only(tmp_path: Path) -> None:
    ps = _profiles(tmp_path, "")
    s = load_settings(ps, environ={"llamadash_port": "1", "PORT": "2", "LLAMADASH_API_HOST": "::1"})
    assert s.port == 8080
    assert s.api_host == "::1"


def test_typed_coercion(tmp_path: Path) -> None:
    ps = _profiles(
        tmp_path,
        "compose_files = compose.yaml, compose.cpu.yaml ,\nswitch_timeout = 12.5\n"
        "runtime = process\ndefault_profile = a\napi_token = s3cret",
    )
    s = load_settings(ps, environ={})
    assert s.compose_files == ("compose.yaml", "compose.cpu.yaml")
    assert s.switch_timeout == 12.5
    assert s.runtime == "process"
    assert s.default_profile == "a"
    assert s.api_token == "s3cret"
    assert isinstance(s, Settings)


def test_relative_models_dir_is_resolved_against_conf_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ps = _profiles(tmp_path, "models_dir = ../weights\nproject_dir = deploy")
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)  # the current directory must not matter
    s = load_settings(ps, environ={})
    assert s.models_dir == (tmp_path / "weights").resolve()
    assert s.project_dir == (tmp_path / "conf" / "deploy").resolve()
    assert s.models_dir.is_absolute()


def test_relative_models_dir_from_env_is_resolved_against_conf_folder(tmp_path: Path) -> None:
    ps = _profiles(tmp_path, "")
    s = load_settings(ps, environ={"LLAMADASH_MODELS_DIR": "env-models"})
    assert s.models_dir == (tmp_path / "conf" / "env-models").resolve()


def test_absolute_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ps = _profiles(tmp_path, f"models_dir = {tmp_path / 'abs'}\nproject_dir = ~/proj")
    s = load_settings(ps, environ={})
    assert s.models_dir == tmp_path / "abs"
    assert s.project_dir == tmp_path / "home" / "proj"


def test_real_models_conf(tmp_path: Path) -> None:
    ps = load_profiles(REPO / "models.conf")
    s = load_settings(ps, environ={})
    assert s.models_dir == (REPO / "models").resolve()
    assert s.port == 8080
    assert s.api_port == 8081
    assert s.default_profile == "gemma-demo"
    assert ps.get(s.default_profile) is not None


def test_unknown_setting_names_the_line(tmp_path: Path) -> None:
    ps = _profiles(tmp_path, "port = 1\nmodels_dri = x")
    with pytest.raises(ConfigError) as info:
        load_settings(ps, environ={})
    err = info.value
    assert err.path == str(ps.path)
    assert (err.line, err.key) == (3, "models_dri")
    assert str(err).startswith(f"{ps.path}:3: key 'models_dri':")
    assert "unknown setting" in str(err)


def test_bad_int_in_conf_names_the_line(tmp_path: Path) -> None:
    ps = _profiles(tmp_path, "api_port = eighty")
    with pytest.raises(ConfigError) as info:
        load_settings(ps, environ={})
    assert (info.value.line, info.value.key) == (2, "api_port")
    assert "bad value 'eighty'" in str(info.value)
    assert str(info.value).startswith(f"{ps.path}:2:")


def test_bad_int_in_env_names_the_variable(tmp_path: Path) -> None:
    ps = _profiles(tmp_path, "")
    with pytest.raises(ConfigError) as info:
        load_settings(ps, environ={"LLAMADASH_PORT": "http"})
    assert info.value.path == "$LLAMADASH_PORT"
    assert info.value.key == "port"


def test_bad_float(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stop_grace"):
        load_settings(_profiles(tmp_path, "stop_grace = soon"), environ={})


def test_bad_runtime(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="want auto, compose or process, got 'podman'"):
        load_settings(_profiles(tmp_path, "runtime = podman"), environ={})


def test_settings_section_from_text_without_file() -> None:
    ps = parse_profiles("[llamadash]\nport = 1234\n[a]\nmodel = m\n", "/srv/llm/models.conf")
    s = load_settings(ps, environ={})
    assert s.port == 1234
    assert s.models_dir == Path("/srv/llm/models").resolve()
