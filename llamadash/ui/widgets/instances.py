"""Instances pane: one row per instance of the pool, one of them selected.

``▸1 ● Tiny random llama     ready    :8100  ██░░░░░░ ~512 MiB   12.3 t/s  ttl 4m   fg``

The row says the state (a coloured dot and the word), the port, the memory the instance holds
as a bar of the pool's budget ("~" before an estimate, none before a measurement), the
generation speed, the idle time left before its ``ttl`` stops it, and "fg" for the foreground
instance (the one a switch replaces). With ``[host]`` sections a host column comes after
the dot, and a host that did not answer is a row of its own saying so. The pane only tells
which row the user selects (:class:`InstancesPane.Selected`); the app decides what follows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.events import Click, Resize
from textual.message import Message

from llamadash.core.events import HostInfo, InstanceInfo, State
from llamadash.ui.format import (
    ACCENT,
    BAD,
    MUTED,
    NA,
    OK,
    WARN,
    Cell,
    bar,
    duration,
    num,
    row,
    size,
)
from llamadash.ui.widgets.rows import RowsPane

__all__ = ["InstancesPane", "instance_row", "name_width", "unreachable_row"]

_DOT = {
    State.READY: OK,
    State.FAILED: BAD,
    State.STARTING: WARN,
    State.LOADING: WARN,
    State.STOPPING: WARN,
    State.IDLE: MUTED,
}
NAME_WIDTH = 26
HOST_WIDTH = 8
MIN_NAME_WIDTH = 12
BAR_WIDTH = 8
# marker+number, dot, (name), state, port, memory bar and size, speed, ttl; then fg
_WIDTHS = (2, 1, 8, 6, BAR_WIDTH + 10, 9, 10)
_FIXED = sum(_WIDTHS) + len(_WIDTHS) + 1 + 2  # the cells, the spaces between them, "fg"


def name_width(width: int) -> int:
    """The name column for a pane ``width`` cells wide: it gives way first (to 12 cells)."""
    return max(MIN_NAME_WIDTH, min(NAME_WIDTH, width - _FIXED)) if width else NAME_WIDTH


def _name(info: InstanceInfo, width: int) -> str:
    text = info.profile_name or info.id or "(nothing)"
    return text if len(text) <= width else text[: width - 1] + "…"


def _memory(info: InstanceInfo, budget: int | None) -> Content:
    """A bar of the budget and the size; "~" marks an estimate (never measured yet)."""
    if info.memory is None:
        return bar(None, BAR_WIDTH) + f" {NA}"
    fraction = info.memory / budget if budget else None
    mark = "" if info.memory_measured else "~"
    return bar(fraction, BAR_WIDTH) + f" {mark}{size(info.memory)}"


def _ttl(info: InstanceInfo, ttl_left: float | None) -> Content:
    if info.pinned:
        return Content.styled("pinned", ACCENT)
    if not info.ttl:
        return Content("")
    if ttl_left is None:  # not ready, or busy: the clock does not run
        return Content.styled(f"ttl {duration(info.ttl, coarse=True)}", MUTED)
    # Seconds in the last minute only: the row changes once a minute until then.
    text = f"ttl {duration(ttl_left, coarse=ttl_left >= 60)}"
    return Content.styled(text, WARN if ttl_left < 60 else "")


def instance_row(
    number: int,
    info: InstanceInfo,
    *,
    selected: bool,
    budget: int | None,
    rate: float | None,
    ttl_left: float | None,
    width: int = NAME_WIDTH,
    hosts: bool = False,
) -> Content:
    """One instance's row (``number`` is its key, 1–9; 0 or above 9: no key).

    ``width``: of the name column (:func:`name_width`); ``hosts``: with a host column.
    """
    key = str(number) if 1 <= number <= 9 else " "
    marker = Content.styled(f"▸{key}", f"bold {ACCENT}") if selected else Content(f" {key}")
    dot = Content.styled("●", _DOT.get(info.state, MUTED))
    name = Content.styled(_name(info, width), "bold") if selected else Content(_name(info, width))
    state = Content.styled(info.state.value, BAD if info.state == State.FAILED else MUTED)
    speed = num(rate, " t/s") if info.state == State.READY else ""
    cells: list[Cell] = [
        marker,
        dot,
        name,
        state,
        f":{info.port}",
        _memory(info, budget),
        speed,
        _ttl(info, ttl_left),
        Content.styled("fg", ACCENT) if info.foreground else "",
    ]
    widths: tuple[int, ...] = (*_WIDTHS[:2], width, *_WIDTHS[2:])
    if hosts:
        cells.insert(2, Content.styled(info.host[:HOST_WIDTH], MUTED))
        widths = (*widths[:2], HOST_WIDTH, *widths[2:])
    return row(cells, widths)


def unreachable_row(host: HostInfo) -> Content:
    """``   ✕ two      unreachable: <why>`` for a host whose engine did not answer."""
    cells: list[Cell] = [
        "  ",
        Content.styled("✕", BAD),
        Content.styled(host.name[:HOST_WIDTH], MUTED),
        Content.styled(f"unreachable: {host.error or '?'}", BAD),
    ]
    return row(cells, (*_WIDTHS[:2], HOST_WIDTH))


class InstancesPane(RowsPane, can_focus=True):
    """The pool's instances; ↑/↓ (when focused), a click or a number selects one."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Previous", show=False),
        Binding("down", "cursor(1)", "Next", show=False),
    ]

    @dataclass
    class Selected(Message):
        """The user selected the instance on ``port``."""

        port: int

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.infos: tuple[InstanceInfo, ...] = ()
        self.hosts: tuple[HostInfo, ...] = ()
        self.budget: int | None = None
        self.selected_port: int | None = None
        self.rates: dict[int, float | None] = {}
        self._ttl_left: Mapping[int, float | None] = {}
        # Hidden until something runs beside the foreground: not focusable meanwhile, or the
        # screen's first focus lands on it and the log view loses it.
        self.can_focus = False

    def on_mount(self) -> None:
        self.border_title = "Instances"

    def set_shown(self, shown: bool) -> None:
        """Show or hide the pane (and let it take the focus only while it is shown)."""
        self.display = self.can_focus = shown
        if not shown and self.has_focus:
            self.screen.focus_next()

    @property
    def ports(self) -> tuple[int, ...]:
        """The instances' ports, in the order of the rows."""
        return tuple(info.port for info in self.infos)

    def show(
        self, infos: tuple[InstanceInfo, ...], budget: int | None, hosts: tuple[HostInfo, ...] = ()
    ) -> None:
        """Draw the pool as described (the selection stays on its port while it is listed).

        ``hosts``: the other Docker hosts; any adds the host column, an unreachable one a row.
        """
        self.infos = infos
        self.hosts = hosts
        self.budget = budget
        ports = set(self.ports)
        self.rates = {port: rate for port, rate in self.rates.items() if port in ports}
        title = "Instances" if not budget else f"Instances · budget {size(budget)}"
        if self.border_title != title:  # assigning the title repaints the border
            self.border_title = title
        self._draw()

    def set_rate(self, port: int, rate: float | None) -> None:
        """The generation speed of the instance on ``port`` (drawn at the next :meth:`tick`)."""
        self.rates[port] = rate

    def tick(self, ttl_left: Mapping[int, float | None]) -> None:
        """Redraw with the time left per port (rows that did not change are not repainted)."""
        self._ttl_left = ttl_left
        self._draw()

    def select(self, port: int | None) -> None:
        """Mark the row of ``port`` as selected (the app's choice: no message)."""
        if port != self.selected_port:
            self.selected_port = port
            self._draw()

    def pick(self, number: int) -> bool:
        """Select row ``number`` (1-based) as the user asked; False when there is none."""
        if not 1 <= number <= len(self.infos):
            return False
        self._choose(self.infos[number - 1].port)
        return True

    def action_cursor(self, delta: int) -> None:
        """Move the selection up or down one row (it stops at the ends)."""
        ports = self.ports
        if not ports:
            return
        at = ports.index(self.selected_port) if self.selected_port in ports else 0
        self._choose(ports[max(0, min(len(ports) - 1, at + delta))])

    def on_click(self, event: Click) -> None:
        """A click on a row selects it."""
        offset = event.get_content_offset(self)
        if offset is not None and 0 <= offset.y < len(self.infos):
            self._choose(self.infos[offset.y].port)

    def _choose(self, port: int) -> None:
        self.select(port)
        self.post_message(self.Selected(port))

    def on_resize(self, event: Resize) -> None:
        """A new width: the name column may grow or give way."""
        super().on_resize(event)
        self._draw()

    def _draw(self) -> None:
        room = self.content_region.width
        width = name_width(room - HOST_WIDTH - 1 if room and self.hosts else room)
        self.set_rows(
            [
                instance_row(
                    number,
                    info,
                    selected=info.port == self.selected_port,
                    budget=self.budget,
                    rate=self.rates.get(info.port),
                    ttl_left=self._ttl_left.get(info.port),
                    width=width,
                    hosts=bool(self.hosts),
                )
                for number, info in enumerate(self.infos, 1)
            ]
            + [unreachable_row(host) for host in self.hosts if not host.reachable]
        )
