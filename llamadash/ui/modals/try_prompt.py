"""Try a prompt (``t``): type it, see the answer stream from the server and its speed.

The modal talks to the followed instance's server on loopback through the same
:class:`~llamadash.core.chat.Conversation` as ``llamadash run``. The request runs in a named
thread worker that posts each piece of text as a message; Esc stops an answer (the
connection is closed, so the server frees its slot), and closes the modal when none streams.
It changes nothing but the conversation it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static
from textual.worker import get_current_worker

from llamadash.core.chat import (
    Answer,
    Conversation,
    Sampling,
    ServerError,
    has_chat_template,
    model_has_template,
)
from llamadash.ui.format import literal

HELP = "Enter: send   Esc: stop the answer, or close"


class TryPrompt(ModalScreen[None]):
    """A small chat with one server, in the dashboard."""

    BINDINGS = [Binding("escape", "stop_or_close", "Stop / close")]

    @dataclass
    class Piece(Message):
        """Text of the answer, as it arrived."""

        text: str

    @dataclass
    class Answered(Message):
        """The answer ended (finished, cut at the limit, or stopped)."""

        answer: Answer

    @dataclass
    class Failed(Message):
        """The server refused or broke off; the reason in one line."""

        error: str

    def __init__(
        self,
        endpoint: str,
        title: str,
        model: Path,
        server_args: tuple[str, ...],
        sampling: Sampling | None = None,
    ) -> None:
        """The modal for the server at ``endpoint`` running ``model`` with ``server_args``.

        ``sampling``: None leaves every setting to the server's defaults.
        """
        super().__init__()
        self.sampling = sampling or Sampling()
        self.endpoint = endpoint
        self.title_text = title
        self.model = model
        self.server_args = server_args
        self.conversation: Conversation | None = None
        self.streaming = False
        self.pieces: list[str] = []
        """Everything shown: the prompts (``> …``) and the answers as they came."""

    def compose(self) -> ComposeResult:
        with Vertical(id="try"):
            yield Label(literal(self.title_text), id="try-title")
            with VerticalScroll(id="try-answer"):  # a Static wraps the answer's long lines
                yield Static("", id="try-text")
            yield Label("", id="try-stats")
            yield Input(placeholder="a prompt", id="try-input")
            yield Label(HELP, id="try-help")

    def on_mount(self) -> None:
        self.query_one("#try-input", Input).focus()

    @on(Input.Submitted, "#try-input")
    def _send(self, event: Input.Submitted) -> None:
        prompt = event.value.strip()
        if not prompt:
            return
        if self.streaming:
            self.notify("an answer is still coming: Esc stops it", severity="warning")
            return
        event.input.clear()
        self._show(("\n\n" if self.pieces else "") + f"> {prompt}\n")
        self.streaming = True
        self._stats("answering…")
        self.ask(prompt)

    @work(thread=True, exclusive=True, group="try", exit_on_error=False)
    def ask(self, prompt: str) -> None:
        """Stream the answer to ``prompt`` (in a thread: the client blocks on its socket)."""
        try:
            conversation = self.conversation or self._start()
            if get_current_worker().is_cancelled:  # closed while it looked at the model
                return
            answer = conversation.ask(
                prompt, on_text=lambda text: self.post_message(self.Piece(text))
            )
        except ServerError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Answered(answer))

    def _start(self) -> Conversation:
        """The conversation, once it is known whether the model chats (may ask the server)."""
        chat = model_has_template(self.model, self.server_args)
        if chat is None:  # the file is not readable here
            chat = has_chat_template(self.endpoint)
        self.conversation = Conversation(self.endpoint, chat=chat, sampling=self.sampling)
        if not chat:
            self.post_message(self.Piece("(no chat template: continuing the text)\n"))
        return self.conversation

    @property
    def transcript(self) -> str:
        """The conversation as shown."""
        return "".join(self.pieces)

    @on(Piece)
    def _piece(self, message: Piece) -> None:
        self._show(message.text)

    def _show(self, text: str) -> None:
        self.pieces.append(text)
        self.query_one("#try-text", Static).update(Text(self.transcript))
        self.query_one("#try-answer", VerticalScroll).scroll_end(animate=False)

    @on(Answered)
    def _answered(self, message: Answered) -> None:
        self.streaming = False
        answer = message.answer
        ended = {"interrupted": "stopped", "length": "at the token limit"}.get(answer.finish, "")
        self._stats(" · ".join(part for part in (answer.speed(), ended) if part))

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.streaming = False
        self._stats(f"error: {message.error}")

    def _stats(self, text: str) -> None:
        self.query_one("#try-stats", Label).update(literal(text))

    def action_stop_or_close(self) -> None:
        """Stop the answer coming in; with none coming, close."""
        if self.streaming and self.conversation is not None:
            self.conversation.hang_up()
        else:
            self.dismiss(None)

    def on_unmount(self) -> None:
        if self.conversation is not None:
            self.conversation.hang_up()  # closed mid-answer: free the server's slot
