"""Log pane: live server logs across switches, follow on/off, text filter, severity colours."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Key
from textual.widgets import Input, RichLog

# llama-server prefixes lines with "<elapsed> <level> ", e.g. "0.02.297.428 W load: ...".
_ERROR = re.compile(r"(^(?:[\d.]+ )?E |\berror\b|\bfailed\b|\bfatal\b|exited with code)", re.I)
_WARN = re.compile(r"(^(?:[\d.]+ )?W |\bwarn(ing)?\b)", re.IGNORECASE)
MAX_LINES = 10_000
MAX_BATCH = 2_000  # a flood writes only the newest lines of each tick; the rest scrolled by


def style_of(line: str) -> str:
    """Colour for a log line: separators, errors, warnings."""
    if line.startswith("--- "):
        return "bold cyan"
    if _ERROR.search(line):
        return "red"
    if _WARN.search(line):
        return "yellow"
    return ""


class LogPane(Vertical):
    """RichLog plus a filter input that appears on ``/``."""

    def __init__(self, source: Callable[[], Iterable[str]], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.source = source
        self.filter_text = ""
        self.follow = True
        self.lines_shown = 0
        self.last_error_line: int | None = None

    def compose(self) -> ComposeResult:
        yield RichLog(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False, id="log")
        yield Input(placeholder="filter logs (Enter to apply, Esc to clear)", id="log-filter")

    def on_mount(self) -> None:
        self.border_title = "Logs"
        self.query_one("#log-filter", Input).display = False
        self._title()

    def on_resize(self) -> None:
        # The panes above grow with their first samples, the terminal shrinks: RichLog does
        # not re-pin its tail then, so a follow view would be left showing older lines.
        if self.follow:
            self.log_view.scroll_end(animate=False)

    @property
    def log_view(self) -> RichLog:
        """The scrolling log."""
        return self.query_one("#log", RichLog)

    def add_lines(self, lines: Iterable[str]) -> None:
        """Append lines (only those matching the filter)."""
        batch = list(lines)[-MAX_BATCH:]
        shown: list[Text] = []
        for line in batch:
            if self.filter_text and self.filter_text.lower() not in line.lower():
                continue
            style = style_of(line)
            if style == "red":
                self.last_error_line = self.lines_shown + len(shown)
            shown.append(Text(line, style=style))
        if shown:
            # One write per batch: RichLog.write measures, renders and scrolls on every call
            # (~0.7 ms each), so a write per line saturated a core at 1,000 lines/s.
            self.log_view.write(Text("\n").join(shown), scroll_end=self.follow)
            self.lines_shown += len(shown)

    def reload(self, lines: Iterable[str]) -> None:
        """Redraw from the full buffer (after the filter changes)."""
        self.log_view.clear()
        self.lines_shown = 0
        self.last_error_line = None
        self.add_lines(lines)
        self._title()

    def toggle_follow(self) -> bool:
        """Flip follow mode; returns the new value."""
        self.follow = not self.follow
        self.log_view.auto_scroll = self.follow
        if self.follow:
            self.log_view.scroll_end(animate=False)
        self._title()
        return self.follow

    def show_error(self) -> None:
        """Stop following and scroll to the last error line."""
        self.follow = False
        self.log_view.auto_scroll = False
        if self.last_error_line is not None:
            self.log_view.scroll_to(y=max(0, self.last_error_line - 3), animate=False)
        else:
            self.log_view.scroll_end(animate=False)
        self._title()

    def open_filter(self) -> None:
        """Show the filter input and focus it."""
        box = self.query_one("#log-filter", Input)
        box.display = True
        box.value = self.filter_text
        box.focus()

    def _title(self) -> None:
        parts = ["Logs", "follow" if self.follow else "paused (f: follow)"]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r}")
        self.border_title = " · ".join(parts)

    @on(Input.Submitted, "#log-filter")
    def _apply_filter(self, event: Input.Submitted) -> None:
        self._set_filter(event.value.strip())

    def on_key(self, event: Key) -> None:
        if event.key == "escape" and self.query_one("#log-filter", Input).display:
            event.stop()
            self._set_filter("")

    def _set_filter(self, text: str) -> None:
        self.filter_text = text
        box = self.query_one("#log-filter", Input)
        box.display = False
        self.reload(self.source())
        self.log_view.focus()
