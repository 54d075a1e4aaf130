"""What the local and the attached dashboard share besides their panes: toasts and log keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.notifications import SeverityLevel

from llamadash.ui.widgets.logs import LogPane

# The keys both dashboards bind, in the footer's order: the selected server's, the log's, and
# the instances list's (shown while several run: not in the footer, listed by ``?``).
SERVER_KEYS = [
    Binding("m", "pick", "Models"),
    Binding("s", "stop_server", "Stop"),
    Binding("r", "restart", "Restart"),
    Binding("l", "focus_logs", "Logs"),
]
LOG_KEYS = [
    Binding("f", "toggle_follow", "Follow"),
    Binding("slash", "filter_logs", "Filter"),
    Binding("question_mark", "help", "Help"),
]
INSTANCE_KEYS = [
    Binding("i", "focus_instances", "Instances", show=False),
    *[Binding(str(n), f"select_instance({n})", show=False) for n in range(1, 10)],
]

if TYPE_CHECKING:
    from textual.app import App

    _AppBase = App[None]
else:
    # A plain class at run time, so the App comes last in the dashboards' own bases.
    _AppBase = object


class SharedKeys(_AppBase):
    """Toasts shown exactly as written, and the log pane's keys (``l``, ``f``, ``/``)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast whose text shows exactly as written, whoever asks (``markup`` is ignored).

        Toasts carry profile names and errors, which may hold brackets. Every toast passes
        here (a widget's or screen's ``notify`` calls the app's), and Textual's widgets ask
        for markup by default, so it is turned off here rather than at each call.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_focus_logs(self) -> None:
        """Focus the log view for scrolling."""
        self.query_one(LogPane).log_view.focus()

    def action_toggle_follow(self) -> None:
        """Follow the log tail, or stop following."""
        self.query_one(LogPane).toggle_follow()  # the pane's title says which

    def action_filter_logs(self) -> None:
        """Open the log filter."""
        self.query_one(LogPane).open_filter()
