"""``POST /pull``: a model from Hugging Face into models_dir, with its progress on /events.

The body names ``user/repo[:quant]`` (any spelling ``llamadash pull`` takes) or a profile id
whose ``hf =`` names its source. The download runs in a thread (hub/download.py: a
``.partial`` file, Range resume, sha256, atomic rename) and keeps running if the client goes;
a second request for the same model joins it. Progress goes to every ``GET /events`` client
as ``pull`` events, at most a few a second, and always the last one.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from msgspec import Meta, Struct
from starlette.requests import Request
from starlette.responses import Response

from llamadash.api.encode import json_response
from llamadash.api.errors import bad_request
from llamadash.api.inputs import json_object, kind, no_unknown_keys
from llamadash.api.state import context

MAX_REF_CHARS = 300


class PullRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """A validated ``POST /pull`` body."""

    model: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=MAX_REF_CHARS,
            description="user/repo[:quant] (also hf.co/user/repo:quant), or a profile id whose"
            " hf = names its source",
        ),
    ]
    wait: Annotated[bool, Meta(description="true: answer when the pull is done")] = False


def parse_pull(raw: bytes) -> PullRequest:
    """Validate a ``POST /pull`` body.

    Raises:
        ApiError: 400 naming the first problem found.
    """
    body = json_object(raw, required=True, example='{"model": "user/repo:Q4_K_M"}')
    no_unknown_keys(body, PullRequest.__struct_fields__)
    model, wait = body.get("model"), body.get("wait", False)
    if not isinstance(model, str) or not 1 <= len(model) <= MAX_REF_CHARS:
        shown = kind(model) if not isinstance(model, str) else f"{len(model)} characters"
        raise bad_request(
            f"'model' must be user/repo[:quant] or a profile id (1 to {MAX_REF_CHARS}"
            f" characters), not {shown}",
            field="model",
        )
    if not isinstance(wait, bool):
        raise bad_request(f"'wait' must be true or false, not {kind(wait)}", field="wait")
    return PullRequest(model=model, wait=wait)


async def pull(request: Request) -> Response:
    """``POST /pull``: 202 with the pull's progress (``wait``: 200 done, 502 failed)."""
    ctx = context(request)
    asked = parse_pull(await request.body())
    profiles, settings = ctx.switcher.profiles, ctx.switcher.settings
    ref, model_path = asked.model.strip(), None
    if "/" not in ref and (profile := profiles.get(ref)) is not None:
        if not profile.hf:
            raise bad_request(
                f"profile [{profile.id}] names no source: add hf = USER/REPO:QUANT to it",
                field="model",
            )
        ref, model_path = profile.hf, str(profile.model_path(settings.models_dir))
    from llamadash.core.model_ref import BadReferenceError, parse_ref

    try:
        parse_ref(ref)
    except BadReferenceError as exc:
        raise bad_request(str(exc), field="model") from None
    job = ctx.pulls.start(ref, settings, model_path)
    if not asked.wait or job.task is None:
        return json_response(job.progress, status_code=202, headers={"Location": "/events"})
    done = await asyncio.shield(job.task)
    return json_response(done, status_code=200 if done.state == "done" else 502)
