"""Bench the selected server (``B``): each repetition's speeds as they come, then the result.

The same measurement as ``llamadash bench`` (:func:`~llamadash.core.bench_measure.bench_profile`)
on the server as it runs now (not restarted: no load time), in a named thread worker that
posts its progress as messages; the result joins the bench history, compared with the last
one of the same model and arguments. Esc closes (a repetition under way still finishes on
the server: each is one short request).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, RichLog
from textual.worker import get_current_worker

from llamadash.core.bench_history import BenchHistory, BenchResult
from llamadash.core.bench_measure import REPEATS, BenchError, bench_profile
from llamadash.core.profiles import Profile
from llamadash.ui.format import literal


class BenchRun(ModalScreen[None]):
    """Measures one profile's running server and shows how it went."""

    BINDINGS = [Binding("escape", "close", "Close")]

    @dataclass
    class Progress(Message):
        """One line of progress (a repetition's speeds)."""

        line: str

    @dataclass
    class Done(Message):
        """The measurement is stored: the result and what regressed since the last one."""

        result: BenchResult
        previous: BenchResult | None
        regressed: list[str]

    @dataclass
    class Failed(Message):
        """The server could not be measured; the reason in one line."""

        error: str

    def __init__(
        self,
        profile: Profile,
        models_dir: Path,
        endpoint: str,
        history: BenchHistory,
        binary: str = "",
    ) -> None:
        """Bench ``profile``'s server at ``endpoint``; the result goes into ``history``.

        ``binary``: the llama-server it runs, when known (the process runtime's).
        """
        super().__init__()
        self.binary = binary
        self.profile = profile
        self.models_dir = models_dir
        self.endpoint = endpoint
        self.history = history
        self.finished = False
        self.lines: list[str] = []
        """What the log shows, one entry per line written."""

    def compose(self) -> ComposeResult:
        with Vertical(id="bench"):
            yield Label(literal(f"Bench {self.profile.name} ({self.endpoint})"), id="bench-title")
            yield RichLog(id="bench-log", wrap=True, markup=False, highlight=False)
            yield Label("Esc: close", id="bench-help")

    def on_mount(self) -> None:
        self._write(
            f"measuring: a 512-token prompt and 128 generated tokens, {REPEATS} times"
            " (the server as it runs: no load time)"
        )
        self.measure()

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False)
    def measure(self) -> None:
        """Run the repetitions, store the result (in a thread: each request blocks)."""

        def progress(repeat: int, timings: dict[str, Any]) -> None:
            self.post_message(
                self.Progress(
                    f"{repeat + 1}/{REPEATS}: prompt {timings['prompt_per_second']:.1f} tokens/s,"
                    f" generation {timings['predicted_per_second']:.1f} tokens/s"
                )
            )

        try:
            result = bench_profile(
                self.profile,
                self.models_dir,
                self.endpoint,
                load_seconds=None,
                on_repeat=progress,
                binary=self.binary,
            )
        except BenchError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        if get_current_worker().is_cancelled:  # closed meanwhile: the user left it
            return
        previous, regressed = self.history.add(result)
        self.post_message(self.Done(result, previous, regressed))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self._write(message.line)

    @on(Done)
    def _done(self, message: Done) -> None:
        self.finished = True
        result = message.result
        self._write(
            f"tokens/s: prompt {result.prompt.describe()}, generation {result.gen.describe()}"
            f" (medians over {result.prompt_tokens}+{result.gen_tokens} tokens)"
        )
        if result.speed_text:
            below = " (below it)" if result.below_promise else ""
            self._write(f"the profile says: {result.speed_text}{below}")
        if message.previous is None:
            self._write("the first result with these arguments")
        for line in message.regressed:
            self._write(f"REGRESSION: {line}")
        self._write(f"kept in {self.history.path}")

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.finished = True
        self._write(f"error: {message.error}")

    def _write(self, line: str) -> None:
        self.lines.append(line)
        self.query_one("#bench-log", RichLog).write(Text(line))

    def action_close(self) -> None:
        """Close (a measurement under way is dropped, not stored)."""
        self.dismiss(None)
