"""Status that never lies: the last event checked against what the runtime observes."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from llamadash.core.events import BUSY_STATES, State, Status
from llamadash.core.runtime.base import CLEAN_EXIT_CODES, Observation

if TYPE_CHECKING:
    from llamadash.core.instance import Instance


def build_status(switcher: Instance, obs: Observation, queued: str | None) -> Status:
    """Combine the switcher's last event with an observation into a Status.

    While a switch runs, the event stream is the truth. Otherwise the observation wins: a
    server started or killed outside llamadash is reported as it is.
    """
    event = switcher.last_event
    uptime = time.time() - obs.started_at if obs.running and obs.started_at else None
    profile = switcher.profiles.get(obs.profile_id) if obs.profile_id else None
    health = switcher.config_watch.health if switcher.config_watch is not None else None
    base = Status(
        state=State.IDLE,
        profile_id=None,
        profile_name="",
        since=switcher.state_since,
        runtime=switcher.runtime.name,
        endpoint=switcher.endpoint,
        container=obs.ident,
        container_state=obs.state,
        uptime=uptime,
        args=obs.args,
        exit_code=obs.exit_code,
        queued=queued,
        config_error=health.error if health else None,
        settings_changed=health.settings_changed if health else (),
    )
    exited = f"exited {obs.exit_code}" if obs.state == "exited" else ""
    if event.state in BUSY_STATES or (switcher.busy and event.state != State.FAILED):
        return replace(
            base,
            state=event.state,
            profile_id=event.profile_id,
            profile_name=event.profile_name,
            progress=event.progress,
            warning=event.warning,
            last_error=event.error,
        )
    if event.state == State.FAILED and not obs.running:
        return replace(
            base,
            state=State.FAILED,
            profile_id=event.profile_id,
            profile_name=event.profile_name,
            last_error=event.error,
            note=exited,
            log_tail=event.log_tail,
        )
    if obs.running:
        ours = event.state == State.READY and event.profile_id == obs.profile_id
        return replace(
            base,
            state=State.READY,
            profile_id=obs.profile_id or None,
            profile_name=profile.name if profile else (obs.profile_id or "unknown"),
            since=switcher.state_since if ours else (obs.started_at or event.at),
            note="" if ours else "running, not started by this llamadash",
            managed=ours,
            warning=event.warning if ours else "",
            cache_restored=event.cache_restored if ours else 0,
            last_error=event.error,  # e.g. a switch refused before anything was stopped
            restart_to_apply=health.restart_to_apply(obs) if health else False,
        )
    if obs.state == "exited" and obs.exit_code not in (None, *CLEAN_EXIT_CODES):
        return replace(
            base,
            state=State.FAILED,
            profile_id=obs.profile_id or None,
            profile_name=profile.name if profile else "",
            since=obs.started_at or event.at,
            note=exited,
            last_error=f"llama-server exited with code {obs.exit_code}",
        )
    return replace(
        base,
        note=exited,
        since=switcher.state_since if event.state == State.IDLE else time.time(),
        last_error=event.error,
    )
