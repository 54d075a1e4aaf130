"""Pull a profile's missing model from Hugging Face (its ``hf = …``), with a progress bar.

Opened when the picker chose a profile whose model file is missing and whose profile names a
source. It asks first (the repo, quant, size and folder, found by a worker), pulls in a thread
worker on Enter, and dismisses True once the file is in place (the app then starts the
profile); False when cancelled or failed. Esc during a pull stops it and keeps the partial
file: the next pull (here or ``llamadash pull ID``) continues it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar

from llamadash.core.profiles import Profile
from llamadash.ui.format import literal

if TYPE_CHECKING:
    from llamadash.hub.download import Transfer
    from llamadash.hub.pull import PullPlan
    from llamadash.hub.remote import Hub

REDRAW_SECONDS = 0.25


def needs_pull(profile: Profile | None, models_dir: Path) -> bool:
    """The profile's model is missing and the profile says where to get it."""
    return profile is not None and bool(profile.hf) and not profile.model_path(models_dir).is_file()


class _Stopped(Exception):
    """Raised from the progress listener to end a pull the user cancelled."""


class PullModal(ModalScreen[bool]):
    """Asks, then pulls ``profile``'s model; True when it is in place."""

    DEFAULT_CSS = """
    PullModal { align: center middle; }
    PullModal > Vertical {
        width: 80; height: auto; border: round $accent; padding: 1 2; background: $surface;
    }
    PullModal #pull-bar { margin-top: 1; }
    """
    BINDINGS = [
        Binding("enter", "confirm", "Pull"),
        Binding("escape", "cancel", "Cancel"),
    ]

    @dataclass
    class Planned(Message):
        """What would be pulled (found by the plan worker)."""

        hub: Hub
        plan: PullPlan

    @dataclass
    class Progressed(Message):
        """Bytes done of the total (throttled to a few per second)."""

        done: int
        total: int
        rate: float

    @dataclass
    class Ended(Message):
        """The pull finished (``error`` empty) or failed with this one-line reason."""

        error: str = ""

    def __init__(self, profile: Profile, models_dir: Path) -> None:
        super().__init__()
        self.profile = profile
        self.models_dir = models_dir
        self.hub: Hub | None = None
        self.plan: PullPlan | None = None
        self.pulling = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(literal(f"Model missing for {self.profile.name}"), id="pull-title")
            yield Label(literal(f"looking up {self.profile.hf} …"), id="pull-detail")
            yield ProgressBar(total=None, show_eta=True, id="pull-bar")

    def on_mount(self) -> None:
        self.find_plan()

    @work(thread=True, exclusive=True, group="pull-plan", exit_on_error=False)
    def find_plan(self) -> None:
        """Resolve the profile's source to files, sizes and a folder (network: a thread)."""
        from llamadash.core.model_ref import BadReferenceError, parse_ref
        from llamadash.hub.pull import check_disk, for_profile_model, plan
        from llamadash.hub.remote import HubError, connect

        try:
            hub = connect()
            found = plan(hub, parse_ref(self.profile.hf), self.models_dir)
            found = for_profile_model(found, self.profile.model_path(self.models_dir))
            check_disk(found)
        except (HubError, BadReferenceError, OSError) as exc:
            self.post_message(self.Ended(str(exc)))
            return
        self.post_message(self.Planned(hub, found))

    @work(thread=True, exclusive=True, group="pull", exit_on_error=False)
    def download(self) -> None:
        """Fetch every part; progress as messages; stops when the user cancels."""
        from llamadash.hub.download import PullInterrupted
        from llamadash.hub.pull import run
        from llamadash.hub.remote import HubError

        assert self.hub is not None and self.plan is not None
        files = self.plan.choice.files
        # Bytes of the parts complete before this pull, then of each part as it completes.
        finished = sum(
            f.size
            for f in files
            if (t := self.plan.target(f)).is_file() and t.stat().st_size == f.size
        )
        current: list[Transfer] = []
        started, drawn, first_done = time.monotonic(), 0.0, -1

        def listen(transfer: Transfer) -> None:
            nonlocal finished, drawn, first_done
            if self._stop.is_set():
                raise _Stopped
            if current and current[0].name != transfer.name:
                finished += current[0].total
            current[:] = [transfer]
            done = finished + transfer.done
            first_done = done if first_done < 0 else first_done
            now = time.monotonic()
            if now - drawn >= REDRAW_SECONDS or transfer.done == transfer.total:
                drawn = now
                rate = (done - first_done) / max(now - started, 1e-6)
                self.post_message(self.Progressed(done, self.plan_size, rate))

        try:
            run(self.hub, self.plan, listen)
        except (_Stopped, PullInterrupted):
            self.post_message(self.Ended("stopped: the partial file is kept for the next pull"))
            return
        except (HubError, OSError) as exc:
            self.post_message(self.Ended(str(exc)))
            return
        self.post_message(self.Ended())

    @on(Planned)
    def _planned(self, message: Planned) -> None:
        self.hub, self.plan = message.hub, message.plan
        size = self.plan.choice.size / 1e6
        self.query_one("#pull-detail", Label).update(
            literal(
                f"pull {self.plan.repo} {self.plan.choice.quant} ({size:,.1f} MB) into"
                f" {self.plan.folder}?  Enter pulls · Esc cancels"
            )
        )

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        self.query_one("#pull-bar", ProgressBar).update(total=message.total, progress=message.done)
        self.query_one("#pull-detail", Label).update(
            literal(
                f"{message.done / 1e6:,.1f} of {message.total / 1e6:,.1f} MB"
                f" · {message.rate / 1e6:,.1f} MB/s · Esc stops (the partial file is kept)"
            )
        )

    @on(Ended)
    def _ended(self, message: Ended) -> None:
        self.pulling = False
        if not message.error:
            self.dismiss(True)
            return
        self.query_one("#pull-detail", Label).update(literal(f"{message.error}  (Esc closes)"))

    @property
    def plan_size(self) -> int:
        """Bytes of every part of the planned model."""
        return self.plan.choice.size if self.plan is not None else 0

    def action_confirm(self) -> None:
        """Start the pull once its plan is known (a second Enter does nothing)."""
        if self.plan is not None and not self.pulling:
            self.pulling = True
            self.query_one("#pull-bar", ProgressBar).update(total=self.plan.choice.size)
            self.download()

    def action_cancel(self) -> None:
        """Stop a pull in progress (its partial file stays), or close."""
        self._stop.set()
        self.dismiss(False)
