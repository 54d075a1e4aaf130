"""Model picker: production profiles numbered 1–N, bench profiles under ``b``.

A ModalScreen that returns the chosen profile id (or None); it changes nothing itself.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from llamadash.core.profiles import Profile, ProfileSet
from llamadash.ui.format import literal


def fit(text: str, width: int) -> str:
    """``text`` padded to ``width``, or cut with "…" so a reader sees it was cut."""
    return f"{text:<{width}}" if len(text) <= width else text[: width - 1] + "…"


def profile_row(key: str, profile: Profile, current: str | None) -> Text:
    """``1  Qwen3-Coder …  140 t/s  ctx 65536  ● current``."""
    mark = Text(" ● current", style="bold green") if profile.id == current else Text("")
    ctx = f"ctx {profile.ctx}" if profile.ctx else ""
    return Text.assemble(
        (f"{key:>3}  ", "bold"),
        (fit(profile.name, 40), ""),
        (f" {fit(profile.speed, 16)}", "cyan"),
        (f" {ctx:<10}", "dim"),
        mark,
    )


class ModelPicker(ModalScreen[str | None]):
    """Pick a profile: a number or Enter picks, ``b`` toggles bench profiles, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("b", "toggle_bench", "Bench profiles"),
        *[Binding(str(n), f"number({n})", show=False) for n in range(1, 10)],
    ]

    def __init__(self, profiles: ProfileSet, current: str | None, busy_note: str = "") -> None:
        super().__init__()
        self.profiles = profiles
        self.current = current
        self.busy_note = busy_note
        self.bench = False

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("", id="picker-title")
            if self.busy_note:
                yield Label(literal(self.busy_note), id="picker-busy")
            yield OptionList(id="picker-list")
            yield Label("", id="picker-help")

    def on_mount(self) -> None:
        self._fill()

    @property
    def shown(self) -> tuple[Profile, ...]:
        """The profiles in the visible list."""
        return self.profiles.benches if self.bench else self.profiles.production

    def _fill(self) -> None:
        prefix = "b" if self.bench else ""
        options = [
            Option(profile_row(f"{prefix}{i}", p, self.current), id=p.id)
            for i, p in enumerate(self.shown, 1)
        ]
        listing = self.query_one("#picker-list", OptionList)
        listing.clear_options()
        listing.add_options(
            options or [Option(Text("(no profiles here)", style="dim"), disabled=True)]
        )
        ids = [p.id for p in self.shown]
        listing.highlighted = ids.index(self.current) if self.current in ids else 0
        title = "Bench profiles (b: back)" if self.bench else "Switch model"
        back = "b: back to production profiles" if self.bench else "b: bench profiles"
        self.query_one("#picker-help", Label).update(f"1-9 or Enter: choose   {back}   Esc: cancel")
        self.query_one("#picker-title", Label).update(Text(title, style="bold"))
        listing.focus()

    def action_toggle_bench(self) -> None:
        """Show bench profiles, or production ones again."""
        self.bench = not self.bench
        self._fill()

    def action_number(self, number: int) -> None:
        """Pick the profile with that number, if there is one."""
        if 1 <= number <= len(self.shown):
            self.dismiss(self.shown[number - 1].id)
        else:
            self.notify(f"no profile {number} here", severity="warning")

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#picker-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)
