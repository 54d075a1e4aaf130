"""The pure parts of ``run`` and ``bench``: input lines, request bodies, history, regressions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from llamadash.cli import parse_args
from llamadash.commands.bench import table
from llamadash.commands.chat_repl import MORE, PROMPT, read_message
from llamadash.core.bench_history import (
    BenchHistory,
    BenchResult,
    Figure,
    regressions,
    stated_speed,
)
from llamadash.core.chat import Conversation, Sampling, model_has_template
from llamadash.core.http_stream import LoopbackHttpError, loopback_address
from tests.support.tiny_gguf import write_tiny_gguf


def lines(*typed: str) -> tuple[list[str], Callable[[str], str]]:
    """A reader handing out ``typed`` one line per call, recording the prompts it was shown."""
    shown: list[str] = []
    feed: Iterator[str] = iter(typed)

    def read(prompt: str) -> str:
        shown.append(prompt)
        return next(feed)

    return shown, read


def test_a_trailing_backslash_goes_on_on_the_next_line() -> None:
    shown, read = lines("first \\", "second\\", "third")
    assert read_message(read) == "first \nsecond\nthird"
    assert shown == [PROMPT, MORE, MORE]


def test_a_triple_quoted_block_keeps_its_lines_until_the_closing_quotes() -> None:
    shown, read = lines('"""line one', "", "  indented \\", 'last"""')
    assert read_message(read) == "line one\n\n  indented \\\nlast"
    assert shown == [PROMPT, MORE, MORE, MORE]
    _shown, read = lines('"""all on one line"""')
    assert read_message(read) == "all on one line"


def test_chat_requests_carry_the_history_and_the_system_prompt() -> None:
    talk = Conversation(
        "http://127.0.0.1:1", chat=True, sampling=Sampling(0.2, None, 5, 7), system="be brief"
    )
    talk.turns.append(("hi", "hello"))
    path, body = talk.request("and now?", stream=True)
    assert path == "/v1/chat/completions"
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
    ]
    assert (body["temperature"], body["top_k"], body["max_tokens"], body["stream"]) == (
        0.2,
        5,
        7,
        True,
    )
    assert "top_p" not in body  # unset: the server's default


def test_a_base_model_continues_the_conversation_as_plain_text() -> None:
    talk = Conversation("http://127.0.0.1:1", chat=False, sampling=Sampling(n_predict=3))
    talk.turns.append(("Once upon", " a time"))
    path, body = talk.request("The end", stream=False)
    assert path == "/completion"
    assert body == {"prompt": "Once upon a time\n\nThe end", "n_predict": 3, "stream": False}
    talk.clear()
    assert talk.request("x", stream=False)[1]["prompt"] == "x"


def test_the_template_comes_from_the_gguf_or_the_profile_flags(tmp_path: Path) -> None:
    chatty = write_tiny_gguf(tmp_path / "chat.gguf", seed=0)
    base = write_tiny_gguf(tmp_path / "base.gguf", seed=0, chat_template=None)
    assert model_has_template(chatty, ()) is True
    assert model_has_template(base, ()) is False
    assert model_has_template(base, ("--chat-template", "chatml")) is True
    assert model_has_template(tmp_path / "absent.gguf", ()) is None


def test_only_loopback_servers_are_spoken_to() -> None:
    assert loopback_address("http://127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert loopback_address("http://[::1]:81/x") == ("::1", 81)
    for url in ("http://10.0.0.5:8080", "http://example.com:80", "https://127.0.0.1:1", "x"):
        with pytest.raises(LoopbackHttpError, match="not a loopback"):
            loopback_address(url)


def result(gen: float, prompt: float = 500.0, args_hash: str = "k1") -> BenchResult:
    return BenchResult(
        profile="gemma",
        at=1.0,
        model="gemma.gguf",
        args_hash=args_hash,
        build="b1",
        load_seconds=1.2,
        prompt_tokens=512,
        gen_tokens=128,
        prompt=Figure.of([prompt, prompt * 1.1, prompt * 0.9]),
        gen=Figure.of([gen]),
        repeats=3,
        speed_text="~95 t/s",
    )


def test_a_drop_over_ten_percent_against_the_same_args_is_a_regression() -> None:
    old = result(100.0)
    assert regressions(result(91.0), old) == []
    (line,) = regressions(result(85.0), old)
    assert line.startswith("generation 85.0 tokens/s is 15% below 100.0")
    assert regressions(result(50.0), None) == []
    # After `llamadash update`, the line names the build it came from and the one now.
    before = replace(old, binary="/c/llama-server/11434.0.0-x86_64/llama-server")
    after = replace(result(50.0), binary="/c/llama-server/11500.0.0-x86_64/llama-server")
    (line,) = regressions(after, before)
    assert line.endswith(
        "(build b1; /c/llama-server/11434.0.0-x86_64/llama-server → "
        "/c/llama-server/11500.0.0-x86_64/llama-server)"
    )


def test_the_history_appends_and_skips_a_line_cut_short(tmp_path: Path) -> None:
    history = BenchHistory.in_state_dir(tmp_path)
    history.append(result(100.0))
    with history.path.open("a") as out:
        out.write('{"profile": "gemma", "at"')  # a crash mid-write
        out.write("\n")
    history.append(result(90.0, args_hash="k2"))
    history.append(result(80.0))
    assert [r.gen.median for r in history.results()] == [100.0, 90.0, 80.0]
    assert history.last_like(result(1.0, args_hash="k2")) == result(90.0, args_hash="k2")
    assert history.last_like(result(1.0, args_hash="new")) is None
    assert history.last_of("gemma") == result(80.0)
    stored = [json.loads(x) for x in history.path.read_text().splitlines() if x.endswith("}")]
    assert [s["gen"]["median"] for s in stored] == [100.0, 90.0, 80.0]


def test_the_speed_a_profile_promises_is_read_from_its_text() -> None:
    assert stated_speed("~95 t/s") == 95.0
    assert stated_speed("12.5 tok/s on a 3090") == 12.5
    assert stated_speed("fast") is None
    assert result(85.0).below_promise and not result(90.0).below_promise  # "~95 t/s"
    assert not replace(result(1.0), speed_text="fast").below_promise


def test_the_table_shows_medians_the_change_and_failures() -> None:
    new, old = result(85.0), result(100.0)
    row = {
        "profile": "gemma",
        "speed": "~95 t/s",
        "error": None,
        "result": new.to_dict(),
        "previous": old.to_dict(),
        "regressions": regressions(new, old),
        "stated_below": True,
    }
    failed = {**row, "profile": "tiny", "result": None, "speed": "", "error": "boom"}
    text = table([row, failed]).splitlines()
    assert text[0].split()[:3] == ["profile", "load", "prompt"]
    assert "85.0 ±0%" in text[1] and "~95 t/s (below)" in text[1]
    assert text[1].endswith("+0% / -15% REGRESSION")
    assert text[2].split()[0] == "tiny" and text[2].endswith("failed")
    assert replace(new, gen=Figure.of([1.0, 3.0])).gen.spread == 100.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "tiny", "--temp", "-1"], "want 0 or more"),
        (["run", "tiny", "-n", "many"], "want a number"),
        (["bench", "--all", "--bench"], "not allowed with argument"),
        (["bench", "--repeat", "0"], "want 1 or more"),
    ],
)
def test_bad_flags_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
