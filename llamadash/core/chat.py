"""A conversation with one running llama-server: request bodies, streamed answers, history.

A model with a chat template talks through ``/v1/chat/completions`` (the server applies the
template to the messages); a base model without one (the Gemma demo) gets ``/completion``
with the conversation so far as plain text to continue. Either way the answer streams as
Server-Sent Events, and the server's own ``timings`` of the answer are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamadash.core.flags import flag_name
from llamadash.core.gguf_header import read_metadata
from llamadash.core.http_stream import LoopbackHttpError, Stream, get_json, open_stream

__all__ = [
    "Answer",
    "Conversation",
    "Sampling",
    "ServerError",
    "has_chat_template",
    "model_has_template",
]

CHAT_PATH = "/v1/chat/completions"
COMPLETION_PATH = "/completion"
TEMPLATE_KEY = "tokenizer.chat_template"
TEMPLATE_FLAGS = ("--chat-template", "--chat-template-file")
_JSON = {"Content-Type": "application/json", "Accept": "text/event-stream, application/json"}


class ServerError(Exception):
    """llama-server answered with an error (its own message), or not at all."""


@dataclass(frozen=True)
class Sampling:
    """The sampling settings a user may set; None leaves the server's default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    n_predict: int | None = None

    def fields(self, chat: bool) -> dict[str, Any]:
        """The request fields, named as the endpoint wants them."""
        named = {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k}
        named["max_tokens" if chat else "n_predict"] = self.n_predict
        return {name: value for name, value in named.items() if value is not None}


@dataclass(frozen=True)
class Answer:
    """One answer: its text, why it ended and the server's timings of it."""

    text: str
    finish: str
    """``stop`` (the model ended it), ``length`` (the token limit) or ``interrupted``."""
    timings: dict[str, Any] = field(default_factory=dict)

    def speed(self) -> str:
        """``42 tokens, 95.3 tokens/s (prompt: 12 tokens, 850 tokens/s)`` from the timings."""
        made, rate = self.timings.get("predicted_n"), self.timings.get("predicted_per_second")
        if not isinstance(made, int) or not isinstance(rate, int | float):
            return ""
        text = f"{made} tokens, {rate:.1f} tokens/s"
        read, read_rate = self.timings.get("prompt_n"), self.timings.get("prompt_per_second")
        if isinstance(read, int) and isinstance(read_rate, int | float) and read > 0:
            text += f" (prompt: {read} tokens, {read_rate:.0f} tokens/s)"
        return text


def model_has_template(model: Path, server_args: Sequence[str]) -> bool | None:
    """Whether a profile chats: its GGUF holds a chat template, or its flags give one.

    The model file is the truth: llama-server's ``/props`` names a ChatML fallback as the
    ``chat_template`` of a base model that has none. None: the file cannot be read.
    """
    if any(flag_name(arg) in TEMPLATE_FLAGS for arg in server_args):
        return True
    try:
        metadata = read_metadata(model)
    except ValueError:
        return None
    return bool(str(metadata.get(TEMPLATE_KEY) or "").strip())


def has_chat_template(url: str) -> bool:
    """Whether the server at ``url`` names a chat template (``/props`` ``chat_template``).

    Only a fallback for :func:`model_has_template`: a base model shows ChatML here.

    Raises:
        ServerError: no usable /props answer.
    """
    try:
        code, props = get_json(url, "/props")
    except LoopbackHttpError as exc:
        raise ServerError(f"no answer from {url}/props: {exc}") from None
    if code != 200 or not isinstance(props, dict):
        raise ServerError(f"{url}/props answered {code}: {_message(props)}")
    return bool(str(props.get("chat_template") or "").strip())


class Conversation:
    """The history of one chat with one server, and the requests that continue it.

    Args:
        url: The server's loopback base URL.
        chat: Use the chat endpoint (the model has a template), else ``/completion``.
        sampling: The sampling settings of every request.
        system: The system prompt (chat: a system message; completion: text put first).
    """

    def __init__(self, url: str, *, chat: bool, sampling: Sampling, system: str = "") -> None:
        self.url = url
        self.chat = chat
        self.sampling = sampling
        self.system = system
        self.turns: list[tuple[str, str]] = []
        self._streaming: Stream | None = None
        self._hung_up = False

    def hang_up(self) -> None:
        """Stop the answer streaming now, from another thread (the dashboard's Esc).

        Closing the connection ends the blocked read; ``ask`` then returns what came so far
        as ``interrupted``, as after Ctrl-C.
        """
        self._hung_up = True
        streaming = self._streaming
        if streaming is not None:
            streaming.close()

    def clear(self) -> None:
        """Forget the history (the system prompt stays)."""
        self.turns = []

    def request(self, prompt: str, *, stream: bool) -> tuple[str, dict[str, Any]]:
        """The path and body that ask for the answer to ``prompt`` after the history."""
        fields = {**self.sampling.fields(self.chat), "stream": stream}
        if self.chat:
            messages = [{"role": "system", "content": self.system}] if self.system else []
            for asked, answered in self.turns:
                messages += [
                    {"role": "user", "content": asked},
                    {"role": "assistant", "content": answered},
                ]
            messages.append({"role": "user", "content": prompt})
            return CHAT_PATH, {"messages": messages, **fields}
        before = "".join(f"{asked}{answered}\n\n" for asked, answered in self.turns)
        system = f"{self.system}\n\n" if self.system else ""
        return COMPLETION_PATH, {"prompt": system + before + prompt, **fields}

    def ask(self, prompt: str, on_text: Callable[[str], object]) -> Answer:
        """Stream the answer to ``prompt``, handing each piece of text to ``on_text``.

        Ctrl-C (KeyboardInterrupt) while it streams, or ``hang_up`` from another thread, hangs
        up at once, so the server stops generating and frees the slot; the answer so far is
        returned as ``interrupted``.
        The exchange is added to the history, also when interrupted (it is what was shown).

        Raises:
            ServerError: the server refused the request or the connection broke.
        """
        path, body = self.request(prompt, stream=True)
        pieces: list[str] = []
        finish, timings = "interrupted", dict[str, Any]()
        self._hung_up = False
        try:
            with self._open(path, body) as answer:
                self._streaming = answer
                if self._hung_up:  # asked to stop while connecting
                    raise KeyboardInterrupt
                for data in answer.events():
                    if data == "[DONE]":
                        break
                    text, ended, timings = self._parse(data, timings)
                    if text:
                        pieces.append(text)
                        on_text(text)
                    finish = ended or finish
        except KeyboardInterrupt:
            finish = "interrupted"
        except LoopbackHttpError as exc:
            if not self._hung_up:
                raise ServerError(f"the server at {self.url} stopped answering: {exc}") from None
            finish = "interrupted"  # the read broke because hang_up closed the connection
        finally:
            self._streaming = None
        self.turns.append((prompt, "".join(pieces)))
        return Answer("".join(pieces), finish, timings)

    def ask_whole(self, prompt: str) -> dict[str, Any]:
        """The server's whole (not streamed) JSON answer to ``prompt``; history kept.

        Raises:
            ServerError: the server refused the request or the connection broke.
        """
        path, body = self.request(prompt, stream=False)
        try:
            with self._open(path, body) as answer:
                data = json.loads(answer.read())
        except (LoopbackHttpError, ValueError) as exc:
            raise ServerError(f"no usable answer from {self.url}{path}: {exc}") from None
        if self.chat:
            text = str(((data.get("choices") or [{}])[0].get("message") or {}).get("content", ""))
        else:
            text = str(data.get("content", ""))
        self.turns.append((prompt, text))
        return dict(data)

    def _open(self, path: str, body: dict[str, Any]) -> Stream:
        try:
            answer = open_stream(
                self.url, "POST", path, body=json.dumps(body).encode(), headers=_JSON
            )
        except LoopbackHttpError as exc:
            raise ServerError(f"no answer from {self.url}: {exc}") from None
        if answer.status != 200:
            with answer:
                raw = answer.read()
            try:
                detail = _message(json.loads(raw))
            except ValueError:
                detail = raw[:300].decode("utf-8", "replace")
            raise ServerError(f"{self.url}{path} answered {answer.status}: {detail}")
        return answer

    def _parse(self, data: str, timings: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """One event → (its text, how the answer ended if it did, the timings so far)."""
        try:
            event = json.loads(data)
        except ValueError:
            raise ServerError(
                f"the server sent an event that is not JSON: {data[:200]!r}"
            ) from None
        if not isinstance(event, dict):
            return "", "", timings
        if "error" in event:
            raise ServerError(f"the server gave up: {_message(event)}")
        timings = event.get("timings") or timings
        if self.chat:
            choice = (event.get("choices") or [{}])[0]
            text = (choice.get("delta") or {}).get("content") or ""
            return str(text), str(choice.get("finish_reason") or ""), timings
        ended = ""
        if event.get("stop"):
            ended = "length" if event.get("stop_type") == "limit" else "stop"
        return str(event.get("content") or ""), ended, timings


def _message(data: Any) -> str:
    """The message of llama-server's ``{"error": {"message": ...}}`` (or the data itself)."""
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(data)[:300]
