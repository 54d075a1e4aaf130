"""Log pane: live server logs across switches, follow on/off, text filter, severity colours."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Key
from textual.widgets import Input

from llamadash.ui.format import literal
from llamadash.ui.widgets.logview import LogView

# llama-server prefixes lines with "<elapsed> <level> ", e.g. "0.02.297.428 W load: ...".
_ERROR = re.compile(r"(^(?:[\d.]+ )?E |\berror\b|\bfailed\b|\bfatal\b|exited with code)", re.I)
_WARN = re.compile(r"(^(?:[\d.]+ )?W |\bwarn(ing)?\b)", re.IGNORECASE)
# A line can match neither regex unless it has a level prefix or one of these words. Checking
# that first costs ~1.5 µs a line instead of the regexes' ~16 µs (1,000 lines/s in a flood).
_LEVEL = re.compile(r"(?:[\d.]+ )?[EW] ", re.I)
_WORDS = ("error", "failed", "fatal", "exited with code", "warn")
MAX_LINES = 10_000
MAX_BATCH = 2_000  # a flood writes only the newest lines of each tick; the rest scrolled by


def style_of(line: str) -> str:
    """Colour for a log line: separators, errors, warnings."""
    if line.startswith("--- "):
        return "bold cyan"
    if line.isascii() and not _LEVEL.match(line):  # lower() folds case as re.I does for ASCII
        lower = line.lower()
        if not any(word in lower for word in _WORDS):
            return ""
    if _ERROR.search(line):
        return "red"
    if _WARN.search(line):
        return "yellow"
    return ""


class LogPane(Vertical):
    """A LogView plus a filter input that appears on ``/``."""

    def __init__(self, source: Callable[[], Iterable[str]], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.source = source
        self.filter_text = ""
        self.follow = True
        self.paused_by_error = False  # show_error paused it, not the user
        self.lines_shown = 0  # since the last reload, including lines the view has dropped
        self.last_error_line: int | None = None  # counted as lines_shown is
        self.subject = ""  # the instance whose log this is, while several run

    def compose(self) -> ComposeResult:
        yield LogView(MAX_LINES, id="log")
        yield Input(placeholder="filter logs (Enter to apply, Esc to clear)", id="log-filter")

    def on_mount(self) -> None:
        self.border_title = "Logs"
        self.query_one("#log-filter", Input).display = False
        self._title()

    @property
    def log_view(self) -> LogView:
        """The scrolling log."""
        return self.query_one("#log", LogView)

    def add_lines(self, lines: Iterable[str]) -> None:
        """Append lines (only those matching the filter)."""
        batch = list(lines)[-MAX_BATCH:]
        needle = self.filter_text.lower()
        shown: list[tuple[str, str]] = []
        for line in batch:
            if needle and needle not in line.lower():
                continue
            style = style_of(line)
            if style == "red":
                self.last_error_line = self.lines_shown + len(shown)
            shown.append((line, style))
        if shown:
            self.log_view.write_lines(shown)
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
        self.paused_by_error = False
        self.follow = not self.follow
        self.log_view.auto_scroll = self.follow
        if self.follow:
            self.log_view.scroll_end(animate=False)
        self._title()
        return self.follow

    def show_error(self) -> None:
        """Stop following and scroll to the last error line (the end if there is none)."""
        self.paused_by_error = self.follow or self.paused_by_error
        self.follow = False
        view = self.log_view
        view.auto_scroll = False
        row = -1
        if self.last_error_line is not None:
            # The view keeps only the newest lines: count the error's row back from the end.
            row = self.last_error_line - (self.lines_shown - view.line_count)
        if row >= 0:
            view.scroll_to(y=max(0, row - 3), animate=False)
        else:
            view.scroll_end(animate=False)
        self._title()

    def resume_after_error(self) -> None:
        """Follow again if only a failure paused it (a new switch begins); a user's pause stays."""
        if self.paused_by_error and not self.follow:
            self.toggle_follow()

    def open_filter(self) -> None:
        """Show the filter input and focus it."""
        box = self.query_one("#log-filter", Input)
        box.display = True
        box.value = self.filter_text
        box.focus()

    def set_subject(self, subject: str) -> None:
        """Name the instance whose log this is in the title ("" : the only one)."""
        if subject != self.subject:
            self.subject = subject
            self._title()

    def _title(self) -> None:
        parts = ["Logs", "follow" if self.follow else "paused (f: follow)"]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r}")
        if self.subject:
            parts.append(self.subject)
        self.border_title = literal(" · ".join(parts))  # the filter is typed by the user

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
