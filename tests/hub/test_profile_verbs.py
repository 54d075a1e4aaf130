"""``llamadash profile add|set|rm``: the real CLI on a hand-written models.conf."""

from __future__ import annotations

from pathlib import Path

from tests.hub.conftest import cli_env, run_cli

CONF = """\
# hand-written; keep me
[llamadash]
models_dir = models

[coder]   ; the big one
name = Coder
model = coder.gguf
ctx = 8192  # enough for now
"""


def test_add_set_rm_keep_every_other_line(tmp_path: Path) -> None:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF)
    # its own state dir and project: `models` never asks another llamadash
    env = cli_env("http://127.0.0.1:9", LLAMADASH_STATE_DIR=str(tmp_path / "state"))
    env["LLAMADASH_PROJECT_NAME"] = f"hubtest-{tmp_path.name}"
    added = run_cli(conf, "profile", "add", "small", "model=s.gguf", "ctx=2048", env=env)
    assert added.returncode == 0, added.stderr
    assert conf.read_text() == CONF + "\n[small]\nmodel = s.gguf\nctx = 2048\n"
    changed = run_cli(conf, "profile", "set", "coder", "ctx=16384", "speed=40 t/s", env=env)
    assert changed.returncode == 0, changed.stderr
    text = conf.read_text()
    assert "ctx = 16384  # enough for now\nspeed = 40 t/s\n" in text
    assert text.startswith("# hand-written; keep me\n") and "[coder]   ; the big one" in text
    unset = run_cli(conf, "profile", "set", "coder", "speed=", env=env)
    assert unset.returncode == 0 and "speed" not in conf.read_text()
    removed = run_cli(conf, "profile", "rm", "small", env=env)
    assert removed.returncode == 0, removed.stderr
    assert conf.read_text() == CONF.replace("8192", "16384")
    listed = run_cli(conf, "models", "--json", env=env)
    assert listed.returncode == 0 and '"coder"' in listed.stdout


def test_a_bad_edit_is_refused_and_the_file_left_alone(tmp_path: Path) -> None:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF)
    env = cli_env("http://127.0.0.1:9")
    cases = {
        ("set", "coder", "ctx=lots"): "ctx",
        ("set", "coder", "ctxx=1"): "did you mean 'ctx'",
        ("set", "nope", "ctx=1"): "no profile [nope]",
        ("add", "coder", "model=x.gguf"): "exists already",
        ("add", "new", "ctx=1"): "needs model=",
        ("add", "new", "model"): "want key=value",
        ("add", "defaults", "model=x.gguf"): "cannot be a profile id",
        ("set", "coder", "extra=--port 9"): "--port",
        ("rm", "nope"): "no profile [nope]",
    }
    for argv, message in cases.items():
        ran = run_cli(conf, "profile", *argv, env=env)
        assert ran.returncode == 2, (argv, ran.stderr)
        assert message in ran.stderr and "Traceback" not in ran.stderr, (argv, ran.stderr)
        assert conf.read_text() == CONF
