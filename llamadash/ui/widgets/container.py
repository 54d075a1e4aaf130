"""Container pane: state, health, uptime, restarts, CPU and memory of the server container."""

from __future__ import annotations

from textual.content import Content

from llamadash.collectors.container import ContainerSnapshot
from llamadash.core.events import Status
from llamadash.ui.format import BAD, MUTED, NA, OK, WARN, bar, duration, pct, row, size
from llamadash.ui.widgets.rows import RowsPane

_STATE_STYLE = {"running": OK, "exited": BAD, "created": WARN, "restarting": WARN}
_WIDTHS = (8,)


def _state(text: str, state: str) -> Content:
    return Content.styled(text, _STATE_STYLE.get(state, ""))


class ContainerPane(RowsPane):
    """Renders ContainerSnapshot (compose) or the process runtime's status."""

    subject = ""
    """The instance shown, named in the title while several run ("" for the only one)."""
    kind = "Container"
    """"Container", or "Process" once show_process() drew the process runtime's view."""

    def on_mount(self) -> None:
        self.border_title = "Container"
        self.waiting()

    def waiting(self) -> None:
        """No sample of the instance shown yet."""
        self.set_rows([Content.styled("waiting for the first sample…", MUTED)])

    def set_subject(self, subject: str) -> None:
        """Name the instance shown in the title ("" : just the kind)."""
        self.subject = subject
        self._title(self.kind)

    def _title(self, kind: str) -> None:
        self.kind = kind
        title = f"{kind} · {self.subject}" if self.subject else kind
        if self.border_title != title:  # assigning the title repaints, even the same one
            self.border_title = title

    def show(self, snap: ContainerSnapshot) -> None:
        """Draw a container snapshot."""
        self._title("Container")  # show_process() may have drawn the process view
        if not snap.present:
            message = snap.error or "no llama-server container (nothing started yet)"
            self.set_rows([Content.styled(message, BAD if snap.error else MUTED)])
            return
        state = snap.state or NA
        if snap.exit_code is not None:
            state += f" (exit {snap.exit_code})"
        # Docker counts 100% per core: the bar is of all the container's CPUs.
        cpus = snap.cpus or 1
        cpu = snap.cpu_pct / (100 * cpus) if snap.cpu_pct is not None else None
        of_cpus = f" of {cpus} CPUs" if snap.cpus else ""
        mem = snap.mem_used / snap.mem_limit if snap.mem_used and snap.mem_limit else None
        rows: list[tuple[str, str | Content]] = [
            ("state", _state(state, snap.state or "")),
            ("health", snap.health or NA),
            ("name", f"{snap.name or NA}  {(snap.id or '')[:12]}"),
            ("uptime", duration(snap.uptime_s, coarse=True)),
            ("restarts", NA if snap.restarts is None else str(snap.restarts)),
            ("cpu", bar(cpu, 14) + f" {pct(snap.cpu_pct)}{of_cpus}"),
            ("memory", bar(mem, 14) + f" {size(snap.mem_used)}"),
            ("image", snap.image or NA),
        ]
        self.set_rows([row(cells, _WIDTHS) for cells in rows])

    def show_process(self, status: Status) -> None:
        """Draw the process runtime's view (no container)."""
        self._title("Process")
        rows: list[tuple[str, str | Content]] = [
            ("runtime", "process (no Docker)"),
            ("state", _state(status.container_state, status.container_state)),
            ("pid", status.container or NA),
            ("uptime", duration(status.uptime, coarse=True)),
        ]
        if status.exit_code is not None:
            rows.append(("exit", str(status.exit_code)))
        self.set_rows([row(cells, _WIDTHS) for cells in rows])
