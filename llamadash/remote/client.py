"""The attached dashboard's side: the owner's API over HTTP (httpx), read into typed messages.

:class:`OwnerApi` is everything an attached dashboard asks of a running llamadash: the
``GET /dashboard`` stream (hello, samples, logs, every instance's events), the profiles for
the picker (``GET /models``), and the keys' actions (``POST /switch``, ``POST /instances``,
``DELETE /instances/{id}``). No state is kept here besides the log cursor.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from llamadash.core.events import SwitchEvent
from llamadash.remote.shapes import (
    HELLO,
    LOGS,
    SAMPLE,
    STATE,
    DashboardHello,
    DashboardLogs,
    DashboardSample,
)

Message = DashboardHello | DashboardSample | DashboardLogs | SwitchEvent
_TYPES: dict[str, Any] = {
    HELLO: DashboardHello,
    SAMPLE: DashboardSample,
    LOGS: DashboardLogs,
    STATE: SwitchEvent,
}
CONNECT_SECONDS = 3.0
# No sample for this long on an open stream: the owner is gone (it sends one a second).
SILENT_SECONDS = 5.0
# A switch can take minutes (a large model); the answer is the outcome.
ACTION_SECONDS = 900.0


class OwnerError(Exception):
    """The owner did not answer, or answered with an error (the message says which)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PickerModel:
    """One profile as the owner's ``GET /models`` lists it."""

    id: str
    name: str
    number: str
    model: str
    speed: str
    ctx: int | None
    bench: bool


class OwnerApi:
    """A running llamadash's API at ``url`` (``http://host:port``), with its token if any."""

    def __init__(self, url: str, token: str = "") -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": "llamadash-attach", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(ACTION_SECONDS, connect=CONNECT_SECONDS),
            trust_env=False,  # a proxy from the environment must not see the token
        )
        self.boot: str | None = None
        self.seq: int | None = None

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def stream(self, follow: str | None = None) -> AsyncIterator[Message]:
        """The ``GET /dashboard`` messages, resuming the log where the last stream ended.

        Raises:
            OwnerError: refused, an HTTP error (401: the token), or silent too long.
        """
        params = {"follow": follow} if follow else {}
        if self.boot is not None and self.seq is not None and follow is None:
            params |= {"boot": self.boot, "since": str(self.seq)}
        timeout = httpx.Timeout(SILENT_SECONDS, connect=CONNECT_SECONDS)
        try:
            async with self._client.stream(
                "GET", "/dashboard", params=params, timeout=timeout
            ) as reply:
                if reply.status_code != 200:
                    await reply.aread()
                    raise OwnerError(_error_text(reply), reply.status_code)
                async for name, data in _events(reply.aiter_lines()):
                    message = msgspec.convert(json.loads(data), _TYPES[name], strict=False)
                    if isinstance(message, DashboardHello):
                        self.boot = message.boot
                    elif isinstance(message, DashboardLogs) and follow is None:
                        self.seq = message.seq
                    yield message
        except httpx.HTTPError as exc:
            raise OwnerError(_unreachable(self.url, exc)) from None
        raise OwnerError(f"{self.url} ended the stream")

    async def models(self) -> tuple[str | None, list[PickerModel]]:
        """The current profile id and every profile (``GET /models``)."""
        body = await self._call("GET", "/models")
        fields = PickerModel.__dataclass_fields__
        return body.get("current"), [
            PickerModel(**{k: v for k, v in m.items() if k in fields}) for m in body["models"]
        ]

    async def switch(self, profile_id: str, restart: bool = False) -> dict[str, Any]:
        """Switch the foreground instance (as ``m`` does locally); the SwitchResult body."""
        body = {"model": profile_id, "exact": True, "restart": restart}
        return await self._call("POST", "/switch", body, ok=(200, 409, 502))

    async def start(self, profile_id: str, restart: bool = False) -> dict[str, Any]:
        """Start ``profile_id`` beside what runs (or restart it where it runs)."""
        body = {"model": profile_id, "exact": True, "restart": restart}
        return await self._call("POST", "/instances", body, ok=(200, 409, 502))

    async def stop(self, profile_id: str | None) -> dict[str, Any]:
        """Stop the instance running ``profile_id`` (None: the foreground one)."""
        if profile_id is None:
            return await self._call("POST", "/stop", {}, ok=(200, 409, 502))
        return await self._call("DELETE", f"/instances/{profile_id}", ok=(200, 409, 502))

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> dict[str, Any]:
        try:
            reply = await self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise OwnerError(_unreachable(self.url, exc)) from None
        if reply.status_code not in ok:
            raise OwnerError(_error_text(reply), reply.status_code)
        try:
            answer = reply.json()
        except ValueError:
            raise OwnerError(f"{self.url}{path} did not answer JSON") from None
        return answer if isinstance(answer, dict) else {"message": str(answer)}


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) of each SSE message; comments and unknown events skipped."""
    name, data = "", list[str]()
    async for line in lines:
        if not line:
            if name in _TYPES and data:
                yield name, "\n".join(data)
            name, data = "", list[str]()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _error_text(reply: httpx.Response) -> str:
    """The API's own message for an error answer, with what to do about a token."""
    try:
        message = str(reply.json().get("message") or reply.text)
    except ValueError:
        message = reply.text.strip() or reply.reason_phrase
    if reply.status_code == 401:
        return f"{message} (pass --token or set LLAMADASH_API_TOKEN)"
    return f"{reply.status_code}: {message}"


def _unreachable(url: str, exc: Exception) -> str:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "did not answer"
    detail = str(exc) or type(exc).__name__
    return f"the llamadash at {url} {kind}: {detail}"
