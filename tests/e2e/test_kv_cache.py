"""Prompt caches kept across switches: real llama-server, real Gemma, a 1,500-token prompt.

A → B → A with the same long prompt: llama-server's own timings (``cache_n``) show what it
did not have to read again. Gemma 3 uses sliding-window attention, which reuses a restored
cache only with ``--swa-full`` (kv_cache.py says what was measured).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from llamadash.core.context import Engine, build_engine
from llamadash.core.events import Result
from tests.e2e.conftest import write_conf

pytestmark = pytest.mark.llama

PROMPT = "The quick brown fox jumps over the lazy dog. " * 150  # 1,502 Gemma tokens
PROFILES = """
[long]
name = Gemma, one 4k slot
model = gemma-3-270m-Q4_K_M.gguf
ctx = {ctx}
parallel = 1
threads = 2
extra = {extra}
keep_cache = {keep}
"""


@pytest.fixture
def kv_engine(
    all_models: Path,
    llama_server_bin: Path,
    free_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Callable[..., Engine]:
    """Engines on one models.conf whose [long] profile the test shapes (process runtime, or
    compose when the test is marked ``compose``)."""
    monkeypatch.setenv("LLAMA_SERVER", str(llama_server_bin))
    runtime, project, project_dir, image = "process", "kv", tmp_path, ""
    if request.node.get_closest_marker("compose") is not None:
        runtime, image = "compose", request.getfixturevalue("llama_image")
        project, project_dir = request.getfixturevalue("compose_project")

    def make(keep: str = "true", ctx: int = 4096, extra: str = "--swa-full") -> Engine:
        conf = write_conf(
            tmp_path / "models.conf",
            models_dir=all_models,
            port=free_port,
            project=project,
            project_dir=project_dir,
            state_dir=tmp_path / "state",
            runtime=runtime,
            image=image,
        )
        with conf.open("a") as out:
            out.write(PROFILES.format(keep=keep, ctx=ctx, extra=extra))
        return build_engine(conf)

    return make


def ask(engine: Engine) -> dict[str, Any]:
    """The long prompt, one token to generate: llama-server's timings of it."""
    reply = httpx.post(
        f"{engine.switcher.endpoint}/completion",
        json={"prompt": PROMPT, "n_predict": 1, "cache_prompt": True},
        timeout=120,
    )
    reply.raise_for_status()
    timings: dict[str, Any] = reply.json()["timings"]
    return timings


async def there_and_back(engine: Engine) -> tuple[str, dict[str, Any]]:
    """long → ask → tiny → long: the message of the way back, and the same prompt's timings."""
    assert (await engine.pool.switch("long")).result == Result.READY
    first = ask(engine)
    assert first["cache_n"] == 0 and first["prompt_n"] >= 1_400  # a cold start reads it all
    assert (await engine.pool.switch("tiny")).result == Result.READY
    back = await engine.pool.switch("long")
    assert back.result == Result.READY, back.message
    return back.message, ask(engine)


async def test_switching_back_restores_the_prompt_cache(kv_engine: Callable[..., Engine]) -> None:
    engine = kv_engine()
    try:
        message, again = await there_and_back(engine)
        assert "cache restored: 1,50" in message  # "1,502 tokens" (or 1,503 with the answer)
        assert again["cache_n"] >= 1_400 and again["prompt_n"] <= 10
        status = await engine.pool.foreground.status()
        assert status.cache_restored >= 1_400
        saved = list(engine.switcher.kv.folder.glob("long-*-slot0.bin"))
        assert len(saved) == 1
    finally:
        await engine.pool.stop()
        await engine.pool.aclose()


@pytest.mark.compose
@pytest.mark.engine
async def test_the_cache_comes_back_in_a_container_too(kv_engine: Callable[..., Engine]) -> None:
    engine = kv_engine()
    assert engine.runtime.name == "compose"
    try:
        message, again = await there_and_back(engine)
        assert "cache restored: 1,50" in message
        assert again["cache_n"] >= 1_400
    finally:
        await engine.pool.stop()
        await engine.pool.aclose()


async def test_keep_cache_false_saves_nothing(kv_engine: Callable[..., Engine]) -> None:
    engine = kv_engine(keep="false")
    try:
        message, again = await there_and_back(engine)
        assert "cache restored" not in message
        assert again["cache_n"] == 0
        assert not list(engine.switcher.kv.folder.glob("*.bin"))
    finally:
        await engine.pool.stop()
        await engine.pool.aclose()


async def test_a_sliding_window_model_without_swa_full_says_why_nothing_is_kept(
    kv_engine: Callable[..., Engine],
) -> None:
    engine = kv_engine(extra="--no-webui")
    try:
        message, again = await there_and_back(engine)
        assert "cache restored" not in message and again["cache_n"] == 0
        said = [line for line in engine.switcher.logs.snapshot() if "not kept" in line]
        assert said and "add --swa-full" in said[-1]
        assert not list(engine.switcher.kv.folder.glob("*.bin"))  # nothing saved in vain
    finally:
        await engine.pool.stop()
        await engine.pool.aclose()


async def test_changed_args_or_a_corrupt_file_start_clean(
    kv_engine: Callable[..., Engine],
) -> None:
    engine = kv_engine()
    try:
        await there_and_back(engine)  # a cache saved and restored for ctx 4096
        assert (await engine.pool.switch("tiny")).result == Result.READY  # saved again
    finally:
        await engine.pool.aclose()
    changed = kv_engine(ctx=3072)  # other arguments: another key, nothing to restore
    try:
        back = await changed.pool.switch("long")
        assert back.result == Result.READY and "cache restored" not in back.message
        assert ask(changed)["cache_n"] == 0
        assert (await changed.pool.switch("tiny")).result == Result.READY
    finally:
        await changed.pool.aclose()
    corrupt = kv_engine()  # ctx 4096 again: its file is there, but broken
    try:
        for path in corrupt.switcher.kv.folder.glob("long-*-slot0.bin"):
            path.write_bytes(b"not a llama.cpp slot file" * 100)
        broken = {p.name for p in corrupt.switcher.kv.folder.glob("*.bin")}
        back = await corrupt.pool.switch("long")
        assert back.result == Result.READY and "cache restored" not in back.message
        assert any("not restored" in line for line in corrupt.switcher.logs.snapshot())
        assert len(broken - {p.name for p in corrupt.switcher.kv.folder.glob("*.bin")}) == 1
        assert ask(corrupt)["cache_n"] == 0
    finally:
        await corrupt.pool.stop()
        await corrupt.pool.aclose()


def test_the_budget_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    from llamadash.core.kv_cache import CacheStore

    store = CacheStore(tmp_path, budget=2_500)
    for age, name in enumerate(("old", "mid", "new")):
        path = tmp_path / f"{name}-0123456789abcdef-slot0.bin"
        path.write_bytes(b"x" * 1_000)
        stamp = 1_000_000 + age
        os.utime(path, (stamp, stamp))
    removed = store.prune()
    assert [p.name.split("-")[0] for p in removed] == ["old"]
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.bin")) == ["mid", "new"]


async def test_only_slots_holding_tokens_are_saved_and_nothing_warns(
    kv_engine: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: a slot that had served a request without keeping its prompt
    # (cache_prompt: false) was saved as a 0-token file, and each switch back "could not
    # restore" it, removed it and logged a warning.
    engine = kv_engine()
    try:
        assert (await engine.pool.switch("tiny")).result == Result.READY
        for slot, keep in ((0, True), (1, False)):
            reply = httpx.post(
                f"{engine.switcher.endpoint}/completion",
                json={"prompt": "hello there", "n_predict": 2, "cache_prompt": keep,
                      "id_slot": slot},
                timeout=60,
            )  # fmt: skip
            reply.raise_for_status()
        slots = httpx.get(f"{engine.switcher.endpoint}/slots", timeout=5).json()
        assert len(slots) > 1  # several slots, one of them used
        assert (await engine.pool.switch("long")).result == Result.READY
        saved = list(engine.switcher.kv.folder.glob("tiny-*.bin"))
        assert len(saved) == 1, saved
        with caplog.at_level("WARNING"):
            back = await engine.pool.switch("tiny")
        assert back.result == Result.READY and "cache restored" in back.message
        assert "could not be restored" not in caplog.text
    finally:
        await engine.pool.stop()
        await engine.pool.aclose()
