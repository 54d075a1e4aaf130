"""Admission decisions (core/admission.py): count, memory, who may be evicted, the message."""

from __future__ import annotations

import pytest

from llamadash.core.admission import (
    GIB,
    MIB,
    AdmissionRefused,
    Holder,
    Need,
    format_size,
    plan_admission,
)


def holder(name: str, gib: float, used: float, **flags: bool) -> Holder:
    return Holder(name, int(gib * GIB), measured=True, last_used=used, **flags)


def test_it_fits_nothing_is_stopped() -> None:
    plan = plan_admission(
        Need("b", 2 * GIB, measured=True),
        [holder("a", 4, 1.0)],
        budget=8 * GIB,
        budget_kind="memory_budget",
        max_instances=2,
    )
    assert plan.evict == ()
    assert plan.free_after == 2 * GIB


def test_the_count_evicts_the_least_recently_used_idle_unpinned_one() -> None:
    holders = [
        holder("old-pinned", 1, 1.0, pinned=True),
        holder("old-busy", 1, 2.0, busy=True),
        holder("older", 1, 3.0),
        holder("newer", 1, 4.0),
    ]
    plan = plan_admission(
        Need("x", GIB, True), holders, budget=100 * GIB, budget_kind="b", max_instances=4
    )
    assert plan.evict == ("older",)


def test_memory_evicts_until_it_fits_oldest_first() -> None:
    holders = [holder("a", 3, 1.0), holder("b", 3, 2.0), holder("c", 3, 3.0)]
    plan = plan_admission(
        Need("x", 5 * GIB, True), holders, budget=10 * GIB, budget_kind="b", max_instances=9
    )
    assert plan.evict == ("a", "b")


def test_a_switch_frees_what_it_replaces() -> None:
    holders = [holder("fg", 6, 5.0, foreground=True), holder("beside", 3, 1.0)]
    plan = plan_admission(
        Need("x", 6 * GIB, True),
        holders,
        budget=10 * GIB,
        budget_kind="b",
        max_instances=2,
        replacing="fg",
    )
    assert plan.evict == ()


def test_refused_when_only_pinned_and_busy_hold_the_memory() -> None:
    holders = [holder("qwen", 18.4, 1.0, pinned=True), holder("embed", 0.8, 2.0, busy=True)]
    with pytest.raises(AdmissionRefused) as refused:
        plan_admission(
            Need("big", int(5.1 * GIB), measured=False),
            holders,
            budget=int(22.4 * GIB),
            budget_kind="free VRAM",
            max_instances=4,
        )
    assert str(refused.value) == (
        "cannot start big: needs ~5.1 GiB (estimate), 3.2 GiB free of 22.4 GiB (free VRAM);"
        " running: qwen (pinned, 18.4 GiB), embed (busy, 819 MiB)"
    )


def test_refused_on_the_count_names_why_each_stays() -> None:
    with pytest.raises(AdmissionRefused, match=r"max_instances = 1 reached.*a \(pinned"):
        plan_admission(
            Need("b", MIB, True),
            [holder("a", 1, 1.0, pinned=True)],
            budget=100 * GIB,
            budget_kind="b",
            max_instances=1,
        )


def test_nothing_is_evicted_when_it_could_not_fit_anyway() -> None:
    """Stopping the idle one would not make room: refuse, and stop nothing."""
    holders = [holder("idle", 1, 1.0), holder("pinned", 8, 2.0, pinned=True)]
    with pytest.raises(AdmissionRefused):
        plan_admission(
            Need("x", 4 * GIB, True), holders, budget=10 * GIB, budget_kind="b", max_instances=9
        )


def test_sizes_read_as_a_user_reads_them() -> None:
    assert format_size(int(5.1 * GIB)) == "5.1 GiB"
    assert format_size(830 * MIB) == "830 MiB"
