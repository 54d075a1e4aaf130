"""The API's own answers, besides the engine's dataclasses (``core/events.py``).

Declared once: ``schemas.py`` derives their OpenAPI schemas from these classes. A field whose
default is ``msgspec.UNSET`` is left out of the JSON while unset (and so not required).
msgspec Structs, not dataclasses: defining a frozen dataclass costs ~2 ms of import here, a
Struct ~0.03 ms.
"""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType

from llamadash.core.events import HostInfo, InstanceInfo, State, Status, SwitchOutcome


class Health(Struct, frozen=True):
    """``GET /healthz``: llamadash itself is up."""

    ok: bool
    version: str
    uptime: float
    busy: bool


class Model(Struct, frozen=True):
    """One profile of models.conf."""

    id: str
    name: str
    number: str
    model: str
    speed: str
    ctx: int | None
    bench: bool
    current: bool
    loading: bool
    restart_to_apply: bool


class Models(Struct, frozen=True):
    """``GET /models``: every profile, the current and the loading one marked."""

    current: str | None
    loading: str | None
    state: State
    models: tuple[Model, ...]
    config_error: str | None
    settings_changed: tuple[str, ...]


class SwitchResult(Struct, frozen=True):
    """What ``POST /switch``, ``POST /stop`` and the /instances changes answer when done.

    200 ready/stopped, 409 superseded (with superseded_by), 502 failed (with error =
    switch_failed and the server's log_tail).
    """

    message: str
    outcome: SwitchOutcome
    status: Status
    error: str | UnsetType = UNSET
    log_tail: tuple[str, ...] | UnsetType = UNSET
    superseded_by: str | UnsetType | None = UNSET
    instance: InstanceInfo | UnsetType | None = UNSET
    """``POST /instances``: the instance it started (None when it is not running)."""
    outcomes: tuple[SwitchOutcome, ...] | UnsetType = UNSET
    """``DELETE /instances``: each instance's stop, the foreground one first."""


class Instances(Struct, frozen=True):
    """``GET /instances``: every instance running, loading or failed, the foreground first."""

    instances: tuple[InstanceInfo, ...]
    hosts: tuple[HostInfo, ...] = ()
    """The other Docker hosts (``[host NAME]``): reachable, or the error and when it was seen."""


class Accepted(Struct, frozen=True):
    """202: the switch runs on; follow ``GET /status`` or ``GET /events``."""

    message: str
    status: Status


class Error(Struct, frozen=True):
    """Every error.

    Some add fields: unknown_model adds query, suggestions and valid; timeout adds timeout
    and status; bad_request may add field(s).
    """

    error: str
    message: str


class ModelCard(Struct, frozen=True):
    """One profile as OpenAI's ``GET /v1/models`` lists a model, plus its state."""

    id: str
    object: str
    created: int
    owned_by: str
    name: str
    state: str
    """``loaded`` (ready), ``loading`` (starting or loading), ``unloaded``."""


class ModelList(Struct, frozen=True):
    """``GET /v1/models``: every profile in OpenAI's list shape."""

    object: str
    data: tuple[ModelCard, ...]


class ProxyErrorDetail(Struct, frozen=True):
    """What went wrong with a /v1/* request (OpenAI's error object)."""

    message: str
    type: str
    code: str
    param: str | UnsetType = UNSET
    log_tail: tuple[str, ...] | UnsetType = UNSET


class ProxyError(Struct, frozen=True):
    """Every /v1/* error llamadash itself answers (the server's own pass through as they are)."""

    error: ProxyErrorDetail


class LoadStage(Struct, frozen=True):
    """Where the load a streamed /v1/* request waits for stands (``loading_state``)."""

    model: str
    """The profile being loaded."""
    stage: str
    """The engine's own stage: ``stopping``, ``starting process``, ``loading tensors``…"""
    pct: float | None
    """Percent done (the engine's estimate; None before loading begins)."""
    eta: float | None
    """Seconds left, from this profile's previous loads (None: no history)."""


class LoadingDelta(Struct, frozen=True):
    """A chat chunk's delta while loading: no content, the stage as reasoning text."""

    role: str
    content: str
    reasoning_content: str


class LoadingChatChoice(Struct, frozen=True):
    """The one choice of a loading ``chat.completion.chunk``."""

    index: int
    delta: LoadingDelta
    finish_reason: None = None


class LoadingTextChoice(Struct, frozen=True):
    """The one choice of a loading ``text_completion`` chunk: empty text, the stage beside it."""

    index: int
    text: str
    reasoning_content: str
    finish_reason: None = None


class LoadingChunk(Struct, frozen=True):
    """One SSE chunk of the loading stream, in the shape of the endpoint's own chunks.

    Clients that do not know ``reasoning_content`` and ``loading`` read an empty delta (or
    text) and go on; chat UIs show the reasoning text as the model's thinking.
    """

    id: str
    object: str
    created: int
    model: str
    choices: tuple[LoadingChatChoice, ...] | tuple[LoadingTextChoice, ...]
    loading: LoadStage


class PullProgress(Struct, frozen=True):
    """``POST /pull``'s answer and each ``pull`` event on ``GET /events``: how far a pull is."""

    id: int
    model: str
    """What was asked: user/repo[:quant]."""
    state: str
    """``planning`` (asking the Hub), ``pulling``, ``done`` or ``failed``."""
    repo: str = ""
    quant: str = ""
    file: str = ""
    """The file being downloaded now."""
    done: int = 0
    """Bytes on disk so far (a resumed partial counts)."""
    total: int = 0
    """Bytes of every file of the quant (split parts summed)."""
    path: str = ""
    """Where the model file lands (the first part of a split model)."""
    error: str = ""
