"""80x24 is usable: the header keeps both addresses, the footer keeps the quit keys, and the
picker shows one line per profile with its ctx and its marks (a missing model file too).

A process-runtime engine that starts nothing (as in test_snapshots.py); the screen is read
as drawn.
"""

from __future__ import annotations

from pathlib import Path

from llamadash.core.context import build_engine
from llamadash.ui.app import build_app
from llamadash.ui.modals.picker import ModelPicker
from tests.ui.helpers import screen_text, wait_until

CONF = """\
[llamadash]
runtime = process
llama_server = /nonexistent/llama-server
models_dir = {root}/models
state_dir = {root}/state
project_name = small
port = {port}

[qwen-coder]
name = Qwen3-Coder 30B A3B Instruct (Q4_K_M), long name
model = qwen.gguf
ctx = 65536
speed = 140 t/s

[tiny]
name = Tiny random llama
model = tiny.gguf
ctx = 512
"""


async def test_80x24_keeps_addresses_quit_keys_and_one_line_per_profile(
    tmp_path: Path, free_port: int
) -> None:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF.format(root=tmp_path, port=free_port))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "qwen.gguf").write_bytes(b"GGUF")  # tiny.gguf is missing
    app = build_app(build_engine(conf), collectors=None, api=None, refresh=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert f"server 127.0.0.1:{free_port}  api off" in lines[0], lines[0]
        assert lines[-1].rstrip().endswith("q Quit Q Stop+Quit"), lines[-1]

        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), 5, "the picker")
        await pilot.pause()
        drawn = screen_text(app).splitlines()
        (qwen,) = [line for line in drawn if "  1  " in line]
        (tiny,) = [line for line in drawn if "  2  " in line]
        assert "Qwen3-Coder 30B A3B" in qwen and "140 t/s" in qwen and "ctx 65536" in qwen
        assert "[model missing]" not in qwen
        assert "Tiny random llama" in tiny and "ctx 512" in tiny and "[model missing]" in tiny
        # Nothing wrapped onto a line of its own.
        assert not [line for line in drawn if "65536" in line and "ctx" not in line]
