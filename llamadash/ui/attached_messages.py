"""What the attached dashboard's stream worker posts (ui/attached.py)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from llamadash.remote.client import Message as OwnerMessage


@dataclass
class OwnerSaid(Message):
    """One message of the owner's ``GET /dashboard`` stream."""

    message: OwnerMessage


@dataclass
class OwnerLost(Message):
    """The owner's API stopped answering (the worker opens the stream again)."""

    reason: str
