"""The JSON forms of what the switcher publishes (GET /status, /events, POST /switch bodies)."""

from __future__ import annotations

import json
from dataclasses import asdict

from llamadash.core.events import Result, State, Status, SwitchEvent, SwitchOutcome
from llamadash.core.progress import Progress


def old_to_dict(obj: object) -> object:
    """What to_dict returned before json_ready: asdict, enums as values, tuples as lists."""
    return json.loads(json.dumps(asdict(obj)))  # type: ignore[call-overload]


def test_to_dict_is_plain_json_and_unchanged() -> None:
    progress = Progress("loading tensors", 42.0, 3.5, None)
    status = Status(
        State.LOADING,
        "gemma",
        "Gemma 3 270M",
        1.0,
        "compose",
        "http://127.0.0.1:8080",
        args=("--port", "8080"),
        progress=progress,
        log_tail=("a", "b"),
    )
    event = SwitchEvent(State.FAILED, "tiny", "Tiny", 2.0, error="boom", log_tail=("x",))
    outcome = SwitchOutcome(Result.SUPERSEDED, "tiny", "replaced", superseded_by="gemma")
    for obj in (status, event, outcome):
        data = obj.to_dict()
        assert json.loads(json.dumps(data)) == data  # nothing but JSON types
        assert data == old_to_dict(obj)
    assert status.to_dict()["state"] == "loading"
    assert status.to_dict()["progress"] == {
        "stage": "loading tensors",
        "pct": 42.0,
        "elapsed": 3.5,
        "eta": None,
    }
    assert outcome.to_dict()["result"] == "superseded"
