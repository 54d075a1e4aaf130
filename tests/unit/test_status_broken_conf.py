"""`llamadash status` with a broken models.conf: what runs, and the error (README: "status
and logs always work")."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.cli import main

CONF = """\
[llamadash]
runtime = process
port = {port}
project_name = broken-conf
state_dir = {state}

[tiny]
model = tiny.gguf
this line is no key-value pair
"""


def test_status_works_with_a_broken_models_conf(
    tmp_path: Path, free_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF.format(port=free_port, state=tmp_path / "state"))
    bad_line = len(conf.read_text().splitlines())
    code = main(["status", "--models-conf", str(conf)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "state:     idle" in out.out
    assert f"config:    {conf}:{bad_line}: cannot read this line" in out.out
    # The [llamadash] lines before the bad one still count: their runtime and port were used.
    assert f"endpoint:  http://127.0.0.1:{free_port}  (runtime: process)" in out.out
