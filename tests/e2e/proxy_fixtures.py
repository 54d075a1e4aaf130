"""A running llamadash API with its pool over real llama-servers, for the /v1/* proxy tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from llamadash.api.server import ApiServer
from llamadash.core.context import Engine, build_engine
from llamadash.core.demand import DemandRouter
from tests.e2e.conftest import write_conf

PROXY_PROFILES = """
[tiny2]
name = Second tiny
model = tiny2.gguf
ctx = 256
threads = 1

[embed]
name = Tiny with embeddings
model = tiny3.gguf
ctx = 256
threads = 1
extra = --embeddings --pooling mean

# One slot with a long context: a generation keeps it busy for tens of seconds.
[long]
name = Gemma, one long slot
model = gemma-3-270m-Q4_K_M.gguf
ctx = 4096
parallel = 1
threads = 1
"""


@dataclass
class Proxy:
    """The engine, its API server and an HTTP client on the API's port."""

    engine: Engine
    api: ApiServer
    client: httpx.AsyncClient

    @property
    def router(self) -> DemandRouter:
        """The API's on-demand router."""
        router = self.api.context.router
        assert router is not None
        return router

    async def chat(self, model: str, **extra: Any) -> httpx.Response:
        """One short chat completion naming ``model``."""
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        return await self.client.post("/v1/chat/completions", json={**body, **extra})


MakeProxy = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def make_proxy(
    all_models: Path,
    llama_server_bin: Path,
    free_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[MakeProxy]:
    """Start an API over a process-runtime pool (overrides are settings); all stopped after.

    ``conf_text`` is more models.conf text (e.g. ``[token NAME]`` sections); an ``api_token``
    override is the API's token too.
    """
    monkeypatch.setenv("LLAMA_SERVER", str(llama_server_bin))
    for name in ("tiny2.gguf", "tiny3.gguf"):  # other files: other profiles, same speed
        if not (all_models / name).exists():
            shutil.copyfile(all_models / "tiny.gguf", all_models / name)
    made: list[Proxy] = []

    async def make(conf_text: str = "", **overrides: Any) -> Proxy:
        conf = write_conf(
            tmp_path / "models.conf",
            models_dir=all_models,
            port=free_port,
            project="proxy",
            project_dir=tmp_path,
            state_dir=tmp_path / "state",
            runtime="process",
        )
        with conf.open("a") as out:
            out.write(PROXY_PROFILES + conf_text)
        engine = build_engine(conf, overrides)
        token = overrides.get("api_token", "")
        api = ApiServer(engine.switcher, pool=engine.pool, idle=engine.idle, port=0, token=token)
        await api.start()
        client = httpx.AsyncClient(base_url=api.url, timeout=120)
        proxy = Proxy(engine, api, client)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        await proxy.client.aclose()
        await proxy.router.aclose()
        await proxy.api.stop()
        await proxy.engine.pool.stop()
        await proxy.engine.idle.aclose()
        await proxy.engine.pool.aclose()
