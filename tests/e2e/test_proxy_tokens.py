"""Named tokens over real llama-servers: each may use its models only, and not the side API.

The API runs with a full ``api_token`` and ``[token NAME]`` sections in models.conf; every
request goes through uvicorn on loopback to real llama-server processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llamadash.core.events import State
from tests.e2e.conftest import write_conf
from tests.e2e.proxy_fixtures import MakeProxy, Proxy, make_proxy

pytestmark = pytest.mark.engine
__all__ = ["make_proxy"]  # the fixture, used by name

MAIN = "main-token-0123456789abcdef"
CI = "ci-token-0123456789abcdef"
OPS = "ops-token-0123456789abcdef"
TOKENS = """
[token ci]
secret = env:LLAMADASH_TEST_CI_TOKEN
models = tiny2, emb*

[token ops]
secret = env:LLAMADASH_TEST_OPS_TOKEN
models = tiny*
routes = all
"""
LLAMADASH = Path(sys.executable).with_name("llamadash")


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header of ``secret``."""
    return {"Authorization": f"Bearer {secret}"}


def chat_body(model: str) -> dict[str, object]:
    """A short chat request naming ``model``."""
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def nothing_runs(proxy: Proxy) -> bool:
    """No instance runs, none was ever started, no request waits."""
    pool = proxy.engine.pool
    return (
        not any(i.running for i in pool.instances())
        and proxy.engine.switcher.stats.switches == 0
        and proxy.router.waiting() == 0
    )


@pytest.fixture
async def proxy(make_proxy: MakeProxy, monkeypatch: pytest.MonkeyPatch) -> Proxy:
    """An API with api_token MAIN and the ci and ops tokens."""
    monkeypatch.setenv("LLAMADASH_TEST_CI_TOKEN", CI)
    monkeypatch.setenv("LLAMADASH_TEST_OPS_TOKEN", OPS)
    return await make_proxy(TOKENS, api_token=MAIN)


async def test_a_named_token_may_use_only_its_models(proxy: Proxy) -> None:
    refused = await proxy.client.post(
        "/v1/chat/completions", json=chat_body("tiny"), headers=bearer(CI)
    )
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "model_not_allowed" and error["param"] == "model"
    assert error["type"] == "permission_error"
    assert "tiny2, embed" in error["message"] and "gemma" not in error["message"], error
    assert nothing_runs(proxy)
    unknown = await proxy.client.post(
        "/v1/chat/completions", json=chat_body("gpt-4o"), headers=bearer(CI)
    )
    assert unknown.status_code == 404 and "long" not in unknown.json()["error"]["message"]
    assert nothing_runs(proxy)

    allowed = await proxy.client.post(
        "/v1/chat/completions", json=chat_body("tiny2"), headers=bearer(CI)
    )
    assert allowed.status_code == 200 and allowed.json()["model"] == "tiny2", allowed.text
    # No model named: the one running is used, only if the token may.
    unnamed = await proxy.client.post(
        "/v1/completions", json={"prompt": "x", "max_tokens": 1}, headers=bearer(OPS)
    )
    assert unnamed.status_code == 200 and unnamed.json()["model"] == "tiny2", unnamed.text
    listed = (await proxy.client.get("/v1/models", headers=bearer(CI))).json()
    assert [card["id"] for card in listed["data"]] == ["tiny2", "embed"]
    everything = (await proxy.client.get("/v1/models", headers=bearer(MAIN))).json()
    assert {c["id"] for c in everything["data"]} == {p.id for p in proxy.engine.profiles.profiles}


async def test_the_sdk_sees_a_refused_model_as_permission_denied(proxy: Proxy) -> None:
    from openai import AsyncOpenAI, PermissionDeniedError

    sdk = AsyncOpenAI(base_url=f"{proxy.api.url}/v1", api_key=CI, max_retries=0)
    with pytest.raises(PermissionDeniedError, match="may not use gemma"):
        await sdk.chat.completions.create(
            model="gemma", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    assert nothing_runs(proxy)
    answer = await sdk.completions.create(model="tiny2", prompt="Once", max_tokens=2)
    assert answer.model == "tiny2"
    await sdk.close()


async def test_a_v1_token_cannot_use_the_side_api(proxy: Proxy) -> None:
    for method, path in (("POST", "/switch"), ("GET", "/status"), ("POST", "/instances"),
                         ("DELETE", "/instances"), ("GET", "/events")):  # fmt: skip
        reply = await proxy.client.request(
            method, path, json={"model": "tiny2"} if method == "POST" else None,
            headers=bearer(CI),
        )  # fmt: skip
        assert reply.status_code == 403, (path, reply.text)
        assert reply.json()["error"] == "route_not_allowed"
        assert "routes = all" in reply.json()["message"]
    assert nothing_runs(proxy)
    for headers in ({}, bearer("not-a-token-0123456789")):
        assert (await proxy.client.get("/v1/models", headers=headers)).status_code == 401
    assert (await proxy.client.get("/healthz")).status_code == 200


async def test_a_token_with_all_routes_switches_only_to_its_models(proxy: Proxy) -> None:
    refused = await proxy.client.post("/switch", json={"model": "gemma"}, headers=bearer(OPS))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "model_not_allowed"
    assert nothing_runs(proxy)
    switched = await proxy.client.post("/switch", json={"model": "tiny"}, headers=bearer(OPS))
    assert switched.status_code == 200, switched.text
    assert proxy.engine.pool.foreground.last_event.state == State.READY
    assert (await proxy.client.get("/status", headers=bearer(OPS))).status_code == 200


def test_a_bad_token_section_is_one_line_naming_it(tmp_path: Path, tiny_gguf: Path) -> None:
    conf = write_conf(
        tmp_path / "models.conf",
        models_dir=tiny_gguf.parent,
        port=1,
        project="tokens",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
        api_port=1,
    )
    lines = len(conf.read_text().splitlines())
    cases = (
        ("[token ci]\nsecret = a-literal-secret-in-the-file\nmodels = tiny\n", lines + 3,
         "env:VARIABLE or file:PATH"),
        ("[token ci]\nsecret = env:LLAMADASH_TEST_UNSET\nmodels = tiny\n", lines + 2,
         "$LLAMADASH_TEST_UNSET is not set"),
    )  # fmt: skip
    for section, line, says in cases:
        conf.write_text(conf.read_text().split("\n[token ci]")[0] + "\n" + section)
        ran = subprocess.run(
            [str(LLAMADASH), "--models-conf", str(conf), "serve", "--token", MAIN],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 2, ran.stderr
        assert ran.stderr.strip().count("\n") == 0 and "Traceback" not in ran.stderr
        assert f"{conf}:{line}:" in ran.stderr and says in ran.stderr, ran.stderr
