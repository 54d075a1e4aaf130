"""Help screen: every key, and where things live."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("m", "model picker: 1-9/Enter switch, a start alongside, b bench, Esc"),
    ("t", "try a prompt on the selected server: streamed answer, tokens/s"),
    ("B", "bench the selected server: prompt and generation speed, kept as history"),
    ("s", "stop llama-server (the instance selected in the list)"),
    ("r", "restart the current profile (of the selected instance)"),
    ("1-9", "select an instance in the list (shown while several servers run)"),
    ("i", "focus the instances list (↑/↓ select)"),
    ("l", "focus the log pane (arrows/PgUp/PgDn scroll)"),
    ("f", "follow logs on/off"),
    ("/", "filter logs by text (Enter apply, Esc clear)"),
    ("q", "quit the dashboard; llama-server keeps running"),
    ("Q", "stop every llama-server and quit"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
)


class HelpScreen(ModalScreen[None]):
    """Keys and tips; any of Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, api: str, log_file: str) -> None:
        super().__init__()
        self.api = api
        self.log_file = log_file

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", justify="right")
        table.add_column(overflow="fold")  # the log file path must stay whole to be copied
        for key, what in KEYS:
            table.add_row(key, what)
        table.add_row("", "")
        if self.api == "off":
            table.add_row("API", "off (started with --no-api)")
        else:
            table.add_row("API", Text(f"{self.api}  (GET /status, GET /models, POST /switch)"))
        table.add_row("log file", Text(self.log_file))  # a str cell would be read as markup
        with Vertical(id="help"):
            yield Static("[b]llamadash keys[/b]")
            yield Static(table)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
