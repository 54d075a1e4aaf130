"""Model picker: production profiles numbered 1–N, bench profiles under ``b``.

A ModalScreen that returns what was chosen (a :class:`Pick`: switch to it, or start it
alongside with ``a``) or None; it changes nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
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


NAME_WIDTH = 40
MIN_NAME_WIDTH = 12
CURRENT = " ● current"
BESIDE = " ○ running"  # in an instance beside the foreground one
MISSING = " [model missing]"  # as `llamadash models` marks it


@dataclass(frozen=True)
class Pick:
    """The picker's answer: a profile id, to switch to or to start alongside what runs."""

    profile_id: str
    alongside: bool = False


@dataclass(frozen=True)
class ProfileRow:
    """``1  Qwen3-Coder …  140 t/s  ctx 65536  ● current``, fitted to the width it is drawn at.

    The name column gives way first (down to MIN_NAME_WIDTH), so a narrow terminal (80
    columns) still shows each profile on one line with its speed, ctx and marks.
    """

    key: str
    profile: Profile
    current: bool
    missing: bool
    beside: bool = False
    """It runs in an instance beside the foreground one."""
    mark_width: int = 0
    """The widest marks of the list, so every row's columns line up."""
    speed_width: int = 16
    """The widest speed of the list (at most 16)."""
    measured: str = ""
    """What ``llamadash bench`` last measured (``bench 58 t/s``), beside the promised speed."""
    measured_width: int = 0
    """The widest measured speed of the list (0: none measured, no column)."""

    @property
    def marks(self) -> str:
        """What is said of the profile: current, model missing."""
        marks = (CURRENT if self.current else "") + (BESIDE if self.beside else "")
        return marks + (MISSING if self.missing else "")

    def line(self, width: int | None = None) -> Text:
        """The row; ``width`` None: at its full width."""
        ctx = f"ctx {self.profile.ctx}" if self.profile.ctx else ""
        fixed = 5 + 1 + self.speed_width + 11 + self.mark_width
        fixed += self.measured_width + 1 if self.measured_width else 0
        name_width = NAME_WIDTH if width is None else width - fixed
        name_width = min(NAME_WIDTH, max(MIN_NAME_WIDTH, name_width))
        row = Text.assemble(
            (f"{self.key:>3}  ", "bold"),
            fit(self.profile.name, name_width),
            (f" {fit(self.profile.speed, self.speed_width)}", "cyan"),
            (
                f" {fit(self.measured, self.measured_width)}" if self.measured_width else "",
                "magenta",
            ),
            (f" {ctx:<10}", "dim"),
            (CURRENT if self.current else "", "bold green"),
            (BESIDE if self.beside else "", "green"),
            (MISSING if self.missing else "", "bold red"),
            no_wrap=True,
            overflow="ellipsis",
        )
        return row

    def __str__(self) -> str:
        return self.line().plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.line(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(5 + MIN_NAME_WIDTH, self.line().cell_len)


class ModelPicker(ModalScreen[Pick | None]):
    """Pick a profile: a number or Enter switches, ``a`` starts it alongside, Esc cancels.

    ``b`` toggles the bench profiles.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("b", "toggle_bench", "Bench profiles"),
        Binding("a", "alongside", "Start alongside"),
        *[Binding(str(n), f"number({n})", show=False) for n in range(1, 10)],
    ]

    def __init__(
        self,
        profiles: ProfileSet,
        current: str | None,
        models_dir: Path | None,
        busy_note: str = "",
        *,
        beside: frozenset[str] = frozenset(),
        alongside: bool = False,
        measured: Mapping[str, float] | None = None,
    ) -> None:
        """The picker over ``profiles``, ``current`` (the foreground's) marked.

        ``beside``: the ids running beside the foreground instance (marked too);
        ``alongside``: the pool holds more than one instance, so ``a`` starts one;
        ``measured``: profile id → the generation tokens/s ``llamadash bench`` last measured.
        """
        super().__init__()
        self.profiles = profiles
        self.current = current
        # A profile whose GGUF is not there is marked (None: the files are on another
        # machine, an attached dashboard's owner; not checked).
        self.models_dir = models_dir
        self.busy_note = busy_note
        self.beside = beside
        self.alongside = alongside
        self.measured = {k: f"bench {v:.0f} t/s" for k, v in (measured or {}).items()}
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
        rows = [
            ProfileRow(
                f"{prefix}{i}",
                p,
                current=p.id == self.current,
                beside=p.id in self.beside,
                missing=self.models_dir is not None and not p.model_path(self.models_dir).is_file(),
                measured=self.measured.get(p.id, ""),
            )
            for i, p in enumerate(self.shown, 1)
        ]
        measured = max((len(row.measured) for row in rows), default=0)
        marks = max((len(row.marks) for row in rows), default=0)
        speed = min(16, max((len(p.speed) for p in self.shown), default=0))
        options = [
            Option(
                replace(row, mark_width=marks, speed_width=speed, measured_width=measured),
                id=row.profile.id,
            )
            for row in rows
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
        keys = "1-9 or Enter: choose"
        if self.alongside:  # with one instance at a time there is nothing to start beside
            keys = "1-9 or Enter: switch   a: start alongside"
        self.query_one("#picker-help", Label).update(f"{keys}   {back}   Esc: cancel")
        self.query_one("#picker-title", Label).update(Text(title, style="bold"))
        listing.focus()

    def action_toggle_bench(self) -> None:
        """Show bench profiles, or production ones again."""
        self.bench = not self.bench
        self._fill()

    def action_number(self, number: int) -> None:
        """Pick the profile with that number, if there is one."""
        if 1 <= number <= len(self.shown):
            self.dismiss(Pick(self.shown[number - 1].id))
        else:
            self.notify(f"no profile {number} here", severity="warning")

    def action_alongside(self) -> None:
        """Start the highlighted profile beside what runs (the foreground keeps running)."""
        if not self.alongside:
            self.notify(
                "one server at a time (max_instances = 1 in models.conf): Enter switches",
                severity="warning",
            )
            return
        listing = self.query_one("#picker-list", OptionList)
        index = listing.highlighted
        option = None if index is None else listing.get_option_at_index(index)
        if option is not None and option.id:
            self.dismiss(Pick(option.id, alongside=True))

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#picker-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(Pick(event.option.id))
