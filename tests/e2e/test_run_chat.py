"""``llamadash run`` against a real llama-server: the chat in a real terminal, one-shot answers.

The chat runs in tmux (a real pty: readline, Ctrl-C as a signal from the terminal). The
servers are real llama-server children (process runtime) with the tiny GGUF and Gemma 3 270M.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llamadash.core.chat import Answer, Conversation, Sampling
from llamadash.core.http_stream import get_json
from tests.conftest import missing
from tests.e2e.conftest import write_conf
from tests.e2e.test_cli_verbs import LLAMADASH, another_free_port, run_cli, running_owner
from tests.support.tmux import Tmux

pytestmark = pytest.mark.llama


@pytest.fixture
def conf(tmp_path: Path, tiny_gguf: Path, gemma_gguf: Path, free_port: int) -> Path:
    """A process-runtime models.conf with tiny and gemma on free ports, state under tmp_path."""
    return write_conf(
        tmp_path / "models.conf",
        models_dir=tiny_gguf.parent,
        port=free_port,
        project=f"run-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
        api_port=another_free_port(),
    )


@pytest.fixture
def env(llama_server_bin: Path, conf: Path) -> Iterator[dict[str, str]]:
    """The environment of the CLI runs; the server they leave running is stopped afterwards."""
    env = {"LLAMA_SERVER": str(llama_server_bin)}
    yield env
    run_cli(conf, "stop", env=env)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        missing("tmux", "apt-get install tmux")
    session = Tmux(f"ldrun-{uuid.uuid4().hex[:8]}", tmp_path / "tmux.sock")
    yield session
    session.kill()


def start_chat(tmux: Tmux, conf: Path, env: dict[str, str], *argv: str) -> None:
    """``llamadash run ARGV`` in a shell in the tmux session; ``EXIT=<code>`` when it ends."""
    variables = [f"{name}={value}" for name, value in env.items()]
    command = shlex.join(["env", *variables, str(LLAMADASH), "--models-conf", str(conf), "run"])
    tmux.run("new-session", "-d", "-x", "120", "-y", "40", "-s", tmux.session)
    tmux.keys(f"{command} {shlex.join(argv)}; echo EXIT=$?", "Enter")


def at_prompt(screen: str) -> bool:
    """The chat waits for a message (tmux drops the prompt's trailing space)."""
    return screen.rstrip().endswith(">>>")


def exit_code(screen: str) -> int | None:
    """The code the shell echoed once ``llamadash run`` ended (None: it still runs)."""
    ended = [line for line in screen.splitlines() if line.startswith("EXIT=")]
    return int(ended[-1].removeprefix("EXIT=")) if ended else None


def slots_busy(endpoint: str) -> list[bool]:
    _code, slots = get_json(endpoint, "/slots")
    return [bool(slot.get("is_processing")) for slot in slots]


def endpoint_of(conf: Path) -> str:
    port = next(x for x in conf.read_text().splitlines() if x.startswith("port ="))
    return f"http://127.0.0.1:{port.split('=')[1].strip()}"


def test_the_chat_streams_stops_on_ctrl_c_and_leaves_on_bye(
    tmux: Tmux, conf: Path, env: dict[str, str]
) -> None:
    start_chat(tmux, conf, env, "gemma", "-n", "2000", "--temp", "0")
    tmux.wait_for(at_prompt, 60, "the chat prompt")
    assert "gemma has no chat template" in tmux.capture()  # said once, before the prompt
    tmux.keys("Once upon a time", "Enter")
    # Streaming: the answer grows on screen while the server still generates it.
    first = tmux.wait_for(lambda s: len(_answer(s)) > 20, 30, "the first tokens")
    tmux.wait_for(lambda s: len(_answer(s)) > len(_answer(first)) + 20, 30, "more tokens")
    assert any(slots_busy(endpoint_of(conf))), "the answer should still be generating"
    tmux.keys("C-c")
    screen = tmux.wait_for(lambda s: "[stopped]" in s and at_prompt(s), 15, "stop")
    assert "Traceback" not in screen
    _wait(lambda: not any(slots_busy(endpoint_of(conf))), 10, "the slot to be freed")
    # Still in the chat: it takes commands.
    tmux.keys("/clear", "Enter")
    tmux.wait_for(lambda s: "(conversation cleared)" in s, 10, "/clear")
    tmux.keys("/bye", "Enter")
    screen = tmux.wait_for(lambda s: exit_code(s) is not None, 15, "the chat to end")
    assert exit_code(screen) == 0, screen


def _answer(screen: str) -> str:
    """The text after the first prompt line (the streamed answer so far)."""
    return screen.split(">>> Once upon a time", 1)[-1].strip()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def test_a_chat_model_answers_over_several_lines_and_keeps_the_history(
    tmux: Tmux, conf: Path, env: dict[str, str]
) -> None:
    start_chat(tmux, conf, env, "tiny", "-n", "8")
    tmux.wait_for(at_prompt, 60, "the chat prompt")
    assert "no chat template" not in tmux.capture()
    tmux.keys("first line \\", "Enter")
    tmux.wait_for(lambda s: s.rstrip().endswith("..."), 10, "the continuation prompt")
    tmux.keys("second line", "Enter")
    # tiny never ends an answer itself: each one runs to -n 8 and says so.
    tmux.wait_for(lambda s: s.count("8 tokens,") == 1, 30, "the first answer's speed")
    tmux.keys("again", "Enter")
    tmux.wait_for(lambda s: s.count("8 tokens,") == 2, 30, "the second answer")
    tmux.keys("C-d")
    screen = tmux.wait_for(lambda s: exit_code(s) is not None, 15, "Ctrl-D to leave")
    assert exit_code(screen) == 0, screen


def test_the_conversation_sends_its_history(conf: Path, env: dict[str, str]) -> None:
    started = run_cli(conf, "run", "tiny", "hi", "-n", "1", env=env)
    assert started.returncode == 0, started.stderr
    talk = Conversation(endpoint_of(conf), chat=True, sampling=Sampling(n_predict=6))
    first = talk.ask("first question", on_text=lambda _text: None)
    second = talk.ask("second", on_text=lambda _text: None)
    assert (first.finish, second.finish) == ("length", "length")
    assert len(first.text) > 0 and talk.turns[0] == ("first question", first.text)

    def read(answer: Answer) -> int:  # tokens the server read (cached or processed)
        return int(answer.timings["prompt_n"]) + int(answer.timings.get("cache_n", 0))

    assert read(second) > read(first) + len("first question")  # it carried the first exchange


def test_a_piped_prompt_prints_only_the_answer(conf: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(LLAMADASH), "--models-conf", str(conf), "run", "tiny", "-n", "16"],
        input="Say something\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and "ready" not in done.stdout  # progress went to stderr
    assert "ready: Tiny random llama" in done.stderr
    assert "keeps running on" in done.stderr  # started here: said who keeps it running
    whole = run_cli(conf, "run", "tiny", "hello", "-n", "5", "--json", env=env)
    assert whole.returncode == 0, whole.stderr
    answer = json.loads(whole.stdout)
    assert answer["endpoint"].endswith("/v1/chat/completions")
    assert answer["response"]["timings"]["predicted_n"] == 5
    assert answer["response"]["usage"]["completion_tokens"] == 5


def test_a_base_model_goes_to_completion_and_an_unknown_profile_is_a_usage_error(
    conf: Path, env: dict[str, str]
) -> None:
    ran = run_cli(conf, "run", "gemma", "The capital of France is", "-n", "8", "--temp", "0")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip()
    assert ran.stderr.count("gemma has no chat template") == 1
    whole = run_cli(conf, "run", "gemma", "Hello", "-n", "4", "--json", env=env)
    assert json.loads(whole.stdout)["endpoint"].endswith("/completion")
    unknown = run_cli(conf, "run", "no-such-model", "hi", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "no-such-model" in unknown.stderr
    no_prompt = subprocess.run(
        [str(LLAMADASH), "--models-conf", str(conf), "run", "tiny"],
        stdin=subprocess.DEVNULL,  # not a terminal, nothing piped: nothing to chat on
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    assert no_prompt.returncode == 2
    assert no_prompt.stderr.startswith("error: no prompt"), no_prompt.stderr
    binary = subprocess.run(
        [str(LLAMADASH), "--models-conf", str(conf), "run", "tiny"],
        input=b"\xff\xfe not text",
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    assert binary.returncode == 2
    assert b"error: the piped prompt is not text" in binary.stderr, binary.stderr


def test_run_goes_through_a_running_owner(conf: Path, env: dict[str, str]) -> None:
    with running_owner(conf, env) as api:
        ran = run_cli(conf, "run", "tiny", "hi", "-n", "4", env=env)
        again = run_cli(conf, "run", "tiny", "hi", "-n", "4", env=env)
    assert ran.returncode == 0, ran.stderr
    assert f"(through the running llamadash at {api})" in ran.stderr
    assert "ready: Tiny random llama" in ran.stderr  # its progress, read from /events
    assert ran.stdout.strip()
    # Already ready in the owner: used where it runs, nothing started, nothing said.
    assert again.returncode == 0 and "through the running" not in again.stderr
    assert "keeps running" not in ran.stderr + again.stderr  # the owner keeps it
    # Forwarded, it stays on the CLI's light path: no asyncio, httpx, Docker or Textual.
    assert ran.heavy() == [] and again.heavy() == [], (ran.heavy(), again.heavy())
