"""models.conf edited from the command line: every untouched line stays as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.core.conf_edit import add_section, remove_section, set_keys, write_checked
from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import parse_profiles

CONF = """\
# my models — hand-written
[llamadash]
models_dir = models   ; beside this file

[defaults]
ngl = 999

; the coder, tuned by hand
[coder]
name = Coder
model = coder.gguf
ctx = 8192  # enough
ot = blk\\.1\\.ffn=CPU
ot = blk\\.2\\.ffn=CPU
extra = --jinja
    --metrics

# the next one is small
[small]
model = small.gguf
"""


def test_add_appends_a_section_and_keeps_every_line() -> None:
    edited = add_section(CONF, "gemma", {"name": "Gemma", "model": "g/g.gguf", "ctx": "4096"})
    assert edited.startswith(CONF)
    assert edited[len(CONF) :] == "\n[gemma]\nname = Gemma\nmodel = g/g.gguf\nctx = 4096\n"
    assert parse_profiles(edited).get("gemma") is not None


def test_add_keeps_crlf_and_refuses_a_taken_or_bad_id() -> None:
    crlf = CONF.replace("\n", "\r\n")
    edited = add_section(crlf, "x", {"model": "x.gguf"})
    assert edited.startswith(crlf) and edited.endswith("[x]\r\nmodel = x.gguf\r\n")
    with pytest.raises(ConfigError, match="exists already"):
        add_section(CONF, "coder", {"model": "y.gguf"})
    for bad in ("defaults", "llamadash", "a b", "[x]", ""):
        with pytest.raises(ConfigError, match="cannot be a profile id"):
            add_section(CONF, bad, {"model": "y.gguf"})


def test_set_replaces_in_place_keeps_comments_collapses_repeats_and_removes() -> None:
    edited = set_keys(CONF, "coder", {"ctx": "16384", "ot": "exps=CPU", "speed": "9 t/s"})
    assert "ctx = 16384  # enough\n" in edited
    assert edited.count("ot = ") == 1 and "ot = exps=CPU\n" in edited
    lines = edited.splitlines()
    # the new key goes after the section's last entry (and its continuation line)
    assert lines[lines.index("    --metrics") + 1] == "speed = 9 t/s"
    untouched = [line for line in CONF.splitlines() if not line.startswith(("ctx", "ot"))]
    assert all(line in lines for line in untouched)
    removed = set_keys(CONF, "coder", {"extra": ""})
    assert "--jinja" not in removed and "--metrics" not in removed
    assert "# the next one is small" in removed
    assert parse_profiles(removed).get("coder").extra == ()  # type: ignore[union-attr]


def test_rm_removes_only_the_section() -> None:
    edited = remove_section(CONF, "coder")
    assert "[coder]" not in edited and "coder.gguf" not in edited and "--metrics" not in edited
    assert "; the coder, tuned by hand" in edited  # a comment above it is the user's: kept
    assert "# the next one is small\n[small]" in edited
    with pytest.raises(ConfigError, match="no profile"):
        remove_section(CONF, "nope")


def test_write_checked_refuses_what_a_load_refuses(tmp_path: Path) -> None:
    path = tmp_path / "models.conf"
    path.write_text(CONF)
    with pytest.raises(ConfigError, match="ctx"):
        write_checked(path, set_keys(CONF, "coder", {"ctx": "lots"}))
    with pytest.raises(ConfigError, match="unknown key"):
        write_checked(path, set_keys(CONF, "coder", {"ctxx": "1"}))
    assert path.read_text() == CONF
    write_checked(path, set_keys(CONF, "small", {"ctx": "2048"}))
    assert parse_profiles(path.read_text()).get("small").ctx == 2048  # type: ignore[union-attr]
