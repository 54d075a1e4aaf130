"""The pulls ``POST /pull`` started: each a thread downloading, its progress to listeners."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from llamadash.api.shapes import PullProgress
from llamadash.core.settings import Settings

PROGRESS_SECONDS = 0.25  # at most this often a "pulling" event (state changes always)
PullListener = Callable[[PullProgress], None]


@dataclass
class PullJob:
    """One pull in the background and its latest progress."""

    progress: PullProgress
    task: asyncio.Task[PullProgress] | None = None
    published: float = 0.0


@dataclass
class Pulls:
    """The pulls this API runs, and who hears of their progress."""

    listeners: list[PullListener] = field(default_factory=list)
    jobs: dict[str, PullJob] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def subscribe(self, listener: PullListener) -> Callable[[], None]:
        """Every pull's progress; returns the unsubscribe."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def start(self, ref: str, settings: Settings, model_path: str | None) -> PullJob:
        """Pull ``ref`` (a running pull of it is joined)."""
        running = self.jobs.get(ref)
        if running is not None and running.task is not None and not running.task.done():
            return running
        job = PullJob(PullProgress(id=next(self._ids), model=ref, state="planning"))
        self.jobs[ref] = job
        job.task = asyncio.create_task(self._run(job, settings, model_path), name=f"pull-{ref}")
        self._publish(job, job.progress, force=True)
        return job

    async def _run(self, job: PullJob, settings: Settings, model_path: str | None) -> PullProgress:
        loop = asyncio.get_running_loop()

        def changed(**values: Any) -> None:
            loop.call_soon_threadsafe(self._update, job, values)

        try:
            landed = await asyncio.to_thread(
                _pull, job.progress.model, settings, model_path, changed
            )
        except Exception as exc:  # HubError, a full disk, …: the reason, never a traceback
            message = (
                str(exc) if type(exc).__name__ == "HubError" else f"{type(exc).__name__}: {exc}"
            )
            self._update(job, {"state": "failed", "error": message}, force=True)
        else:
            self._update(job, {"state": "done", "path": landed}, force=True)
        return job.progress

    def _update(self, job: PullJob, values: dict[str, Any], force: bool = False) -> None:
        job.progress = msgspec.structs.replace(job.progress, **values)
        self._publish(job, job.progress, force=force or values.get("state") != "pulling")

    def _publish(self, job: PullJob, progress: PullProgress, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - job.published < PROGRESS_SECONDS:
            return
        job.published = now
        for listener in list(self.listeners):
            listener(progress)


def _pull(
    ref: str, settings: Settings, model_path: str | None, changed: Callable[..., None]
) -> str:
    """The blocking pull (a worker thread); returns the model file's path."""
    from llamadash.core.model_ref import parse_ref
    from llamadash.hub.download import Transfer
    from llamadash.hub.pull import check_disk, for_profile_model, plan, run
    from llamadash.hub.remote import connect

    hub = connect()
    chosen = plan(hub, parse_ref(ref), settings.models_dir)
    if model_path is not None:
        from pathlib import Path

        chosen = for_profile_model(chosen, Path(model_path))
    check_disk(chosen)
    changed(state="pulling", repo=chosen.repo, quant=chosen.choice.quant,
            total=chosen.choice.size, path=str(chosen.model))  # fmt: skip
    finished = 0  # bytes of the files already done (a split model has several)

    def listen(transfer: Transfer) -> None:
        nonlocal finished
        changed(file=transfer.name, done=finished + transfer.done)
        if transfer.done == transfer.total:
            finished += transfer.total

    run(hub, chosen, listen)
    return str(chosen.model)
