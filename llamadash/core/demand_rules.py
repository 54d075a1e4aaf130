"""When a request-driven load may happen: a person's recent choice, requests in flight, room.

The rules :class:`~llamadash.core.demand.DemandRouter` asks before it loads the next model.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from llamadash.core.demand_types import Blocked, Waiter
from llamadash.core.pool import Pool
from llamadash.core.settings import Settings


class SwapRules:
    """What the router consults before a load (state lives in the router and the pool)."""

    pool: Pool
    clock: Callable[[], float]
    _queues: dict[str, deque[Waiter]]
    _refused_at: tuple[str, int, int] | None
    _refusal: str
    _last_release: dict[str, float]
    _look_at: float

    @property
    def settings(self) -> Settings:
        """The pool's settings (read each time: models.conf may be reloaded)."""
        return self.pool.settings

    def running(self) -> list[str]:
        """Profiles running now (for messages)."""
        return [i.profile_id for i in self.pool.instances() if i.profile_id and i.running]

    def _why_not_now(self, target: str) -> Blocked | None:
        """Why ``target`` may not load yet (None: it may), unless ``preempt`` overrides it."""
        if self.settings.max_instances > 1:  # admission decides; a held model is kept
            refused = self._refused_at
            if refused and refused[0] == target and refused[1:] == self._pool_state():
                held = self._held_elsewhere(target)
                return Blocked(
                    409 if held else 503, "held_by_user" if held else "no_room", self._refusal
                )
            return None
        if self._held_by_person(target):
            chosen = self.pool.chosen[0] if self.pool.chosen else None
            return Blocked(
                409,
                "held_by_user",
                f"{chosen} was chosen by hand {self._since_chosen():.0f} s ago (manual_hold"
                f" {self.settings.manual_hold:g} s); running: {self._runs()}",
            )
        fg = self.pool.foreground
        if fg.busy:  # a person's switch runs: its outcome wakes the scheduler
            return Blocked(503, "switch_running", f"a switch of {fg.profile_id} is running")
        current = fg.profile_id
        if current is None or current == target:
            return None
        if self.pool.in_flight[current] and not self._overdue(target):
            return Blocked(
                503,
                "busy",
                f"{current} still answers {self.pool.in_flight[current]} request(s) after"
                f" {self.settings.max_wait:g} s (max_wait); try again, or set preempt = true",
            )
        if self._lingering(current, target):
            return Blocked(503, "busy", f"{current} is still asked for")
        return None

    def _lingering(self, current: str, target: str) -> bool:
        """Whether the swap waits a moment: the running model's last request just ended.

        More of its requests may follow (a burst): the swap waits ``batch_window / 4`` after
        the last one, never past ``batch_window`` of the target's oldest request.
        """
        queue = self._queues.get(target)
        if not queue:
            return False
        now = self.clock()
        linger = self.settings.batch_window / 4
        last = self._last_release.get(current)
        if (
            last is None
            or now - last >= linger
            or now - queue[0].arrived >= self.settings.batch_window
        ):
            return False
        self._look_at = min(self._look_at, last + linger)
        return True

    def _overdue(self, target: str) -> bool:
        """Preempting: the oldest request for ``target`` waited past max_wait."""
        queue = self._queues.get(target)
        waited = self.clock() - queue[0].arrived if queue else 0.0
        return self.settings.preempt and waited > self.settings.max_wait

    def _held_by_person(self, target: str) -> bool:
        chosen = self.pool.chosen
        if chosen is None or chosen[0] == target or chosen[0] is None:
            return False
        return self._since_chosen() < self.settings.manual_hold and chosen[0] in self.running()

    def _since_chosen(self) -> float:
        return time.monotonic() - self.pool.chosen[1] if self.pool.chosen else float("inf")

    def _pool_state(self) -> tuple[int, int]:
        return (self.pool.revision, sum(self.pool.in_flight.values()))

    def _runs(self) -> str:
        return ", ".join(self.running()) or "nothing"

    def _held_elsewhere(self, target: str) -> bool:
        chosen = self.pool.chosen
        return bool(chosen and chosen[0] and chosen[0] != target) and self._held_by_person(target)
