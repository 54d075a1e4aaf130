"""llama-server ``/slots`` entries as frozen records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SlotInfo", "decode_rate", "parse_slots"]


@dataclass(frozen=True)
class SlotInfo:
    """One server slot; progress fields are None while the slot has never had a task."""

    id: int
    is_processing: bool
    n_ctx: int | None
    id_task: int | None = None
    n_prompt_tokens: int | None = None
    n_prompt_tokens_processed: int | None = None
    n_prompt_tokens_cache: int | None = None
    n_decoded: int | None = None
    n_remain: int | None = None
    has_next_token: bool | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _next_token(raw: Any) -> Mapping[str, Any]:
    """``next_token`` is a one-element list in current servers and an object in older ones."""
    if isinstance(raw, list) and raw:
        raw = raw[0]
    return raw if isinstance(raw, Mapping) else {}


def parse_slots(data: Any) -> tuple[SlotInfo, ...] | None:
    """Turn the ``/slots`` JSON into ``SlotInfo`` records.

    Args:
        data: The decoded body of ``GET /slots`` (a list of objects).

    Returns:
        The slots in server order, or None when ``data`` is not a list.
    """
    if not isinstance(data, list):
        return None
    slots = []
    for position, raw in enumerate(data):
        if not isinstance(raw, Mapping):
            continue
        nxt = _next_token(raw.get("next_token"))
        has_next = nxt.get("has_next_token")
        slot_id = _int(raw.get("id"))
        slots.append(
            SlotInfo(
                id=position if slot_id is None else slot_id,
                is_processing=bool(raw.get("is_processing", False)),
                n_ctx=_int(raw.get("n_ctx")),
                id_task=_int(raw.get("id_task")),
                n_prompt_tokens=_int(raw.get("n_prompt_tokens")),
                n_prompt_tokens_processed=_int(raw.get("n_prompt_tokens_processed")),
                n_prompt_tokens_cache=_int(raw.get("n_prompt_tokens_cache")),
                n_decoded=_int(nxt.get("n_decoded")),
                n_remain=_int(nxt.get("n_remain")),
                has_next_token=has_next if isinstance(has_next, bool) else None,
            )
        )
    return tuple(slots)


def decode_rate(
    before: tuple[SlotInfo, ...] | None, after: tuple[SlotInfo, ...] | None, seconds: float
) -> float | None:
    """Generation tokens/s across all slots, from the ``n_decoded`` progress of two polls.

    Unlike the ``/metrics`` counters, which only move when a request finishes, slot progress
    moves during a request. Tokens of a request that started and finished between the two
    polls are not seen (a finished slot reports ``n_decoded`` 0).

    Args:
        before: The slots of the previous poll.
        after: The slots of this poll.
        seconds: The time between the two polls.

    Returns:
        Tokens per second (0.0 when no slot is generating), or None without two polls.
    """
    if before is None or after is None or seconds <= 0:
        return None
    earlier = {(s.id, s.id_task): s.n_decoded for s in before}
    tokens = 0
    for slot in after:
        if not slot.is_processing or slot.n_decoded is None:
            continue
        old = earlier.get((slot.id, slot.id_task))
        # A task new since the last poll decoded all its tokens in between.
        tokens += (
            slot.n_decoded - old if old is not None and old <= slot.n_decoded else slot.n_decoded
        )
    return tokens / seconds
