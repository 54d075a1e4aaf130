"""Answers built from the declared shapes are the bytes the dict-built ones were."""

from __future__ import annotations

from starlette.responses import JSONResponse

from llamadash.api.encode import json_response
from llamadash.api.shapes import SwitchResult
from llamadash.core.events import Result, State, Status, SwitchOutcome


def test_a_field_left_unset_is_left_out() -> None:
    now = Status(State.IDLE, None, "", 1.0, "process", "e")
    stopped = SwitchOutcome(Result.STOPPED, None, "stopped")
    plain = json_response(SwitchResult(message="m", outcome=stopped, status=now))
    old = {"message": "m", "outcome": stopped.to_dict(), "status": now.to_dict()}
    assert plain.body == JSONResponse(old).body  # the bytes the dict-built answer had
    failed = SwitchResult(message="m", outcome=stopped, status=now, error="e", log_tail=("a",))
    response = json_response(failed, status_code=502, headers={"X-A": "b"})
    assert response.body == JSONResponse({**old, "error": "e", "log_tail": ["a"]}).body
    assert response.status_code == 502 and response.headers["x-a"] == "b"
