"""The /v1 router with more hosts: a request goes to the router of its profile's host.

The local host's router is this one (nothing changes without ``[host]`` sections); each other
host has its own DemandRouter over its own pool, sharing this one's counters, so /metrics and
the dashboard count every request once whichever host served it.
"""

from __future__ import annotations

from collections.abc import Mapping

from llamadash.core.demand import DemandRouter, Lease
from llamadash.core.pool import Pool

__all__ = ["HostRouter"]


class HostRouter(DemandRouter):
    """The local host's DemandRouter, handing requests for other hosts' profiles on."""

    def __init__(self, pool: Pool, others: Mapping[str, DemandRouter]) -> None:
        super().__init__(pool)
        self.others = dict(others)
        for router in self.others.values():
            router.traffic, router.swaps, router.loads = self.traffic, self.swaps, self.loads

    def _other(self, profile_id: str) -> DemandRouter | None:
        profile = self.pool.profiles.get(profile_id)
        return self.others.get(profile.host) if profile is not None else None

    async def acquire(self, profile_id: str) -> Lease:
        """As DemandRouter.acquire, from the router of the profile's host."""
        if (other := self._other(profile_id)) is not None:
            return await other.acquire(profile_id)
        return await super().acquire(profile_id)

    def running(self) -> list[str]:
        """Profiles running now on every host."""
        return [*super().running(), *(p for r in self.others.values() for p in r.running())]

    def waiting(self, profile_id: str | None = None) -> int:
        """Requests waiting on every host, for one model or all."""
        return super().waiting(profile_id) + sum(
            r.waiting(profile_id) for r in self.others.values()
        )

    def queued(self) -> list[str]:
        """Profiles with requests waiting, on every host."""
        return [*super().queued(), *(p for r in self.others.values() for p in r.queued())]

    async def aclose(self) -> None:
        """Answer every waiting request on every host and stop scheduling."""
        for router in self.others.values():
            await router.aclose()
        await super().aclose()
