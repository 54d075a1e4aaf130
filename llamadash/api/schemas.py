"""The component schemas of the OpenAPI document (``openapi.py``), derived from the shapes.

The shapes are declared once, as dataclasses: the engine's (``core/events.py``), the API's own
answers (``shapes.py``) and the request bodies (``inputs.py``). ``msgspec`` writes their JSON
Schema, so a field added to a shape is in ``/openapi.json`` with no edit here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Any

import msgspec
import msgspec.inspect as mi

from llamadash.api.inputs import StopRequest, SwitchRequest
from llamadash.api.pulls import PullRequest
from llamadash.api.shapes import (
    Accepted,
    Error,
    Health,
    Instances,
    ModelList,
    Models,
    ProxyError,
    PullProgress,
    SwitchResult,
)
from llamadash.core.events import Status, SwitchEvent, SwitchOutcome
from llamadash.remote.shapes import DashboardHello, DashboardLogs, DashboardSample

Schema = dict[str, Any]
REF_TEMPLATE = "#/components/schemas/{name}"
STRING: Schema = {"type": "string"}

OUTPUTS: tuple[type, ...] = (
    Health,
    Models,
    Instances,
    Status,
    SwitchEvent,
    SwitchOutcome,
    SwitchResult,
    Accepted,
    Error,
    ModelList,
    ProxyError,
    PullProgress,
    DashboardHello,
    DashboardSample,
    DashboardLogs,
)
"""What the API sends (with every shape they hold, e.g. Progress, Model, State)."""
INPUTS: tuple[type, ...] = (SwitchRequest, StopRequest, PullRequest)
"""The request bodies."""


def ref(name: str) -> Schema:
    """A reference to the component schema ``name``."""
    return {"$ref": REF_TEMPLATE.format(name=name)}


def schema_of(annotation: Any) -> Schema:
    """The JSON Schema of one type, e.g. an ``Annotated`` constraint (a query parameter)."""
    schema: Schema = msgspec.json.schema(annotation, ref_template=REF_TEMPLATE)
    return schema


def components(outputs: Iterable[type], inputs: Iterable[type] = ()) -> dict[str, Schema]:
    """The component schemas of ``outputs``, ``inputs`` and every class they hold, by name.

    msgspec writes the schema a *decoder* would check; three rules make it say what this API
    does:

    * What the API sends: every field is written (``json_ready``, the encoder), so every field
      is required, except one whose default is ``msgspec.UNSET`` (left out while unset). A
      default means nothing in an answer and is dropped.
    * A request body (``inputs.py``) refuses unknown fields and ``null`` in any field: its
      fields that default to None may be left out but never sent as null.
    * Enums list their values in declaration order (msgspec sorts them), as strings.

    A nullable scalar is written ``"type": [X, "null"]`` (msgspec: an ``anyOf``), as before.

    Raises:
        ValueError: a class is both sent and received, or two classes share a name.
    """
    outputs, inputs = tuple(outputs), tuple(inputs)
    infos = mi.multi_type_info((*outputs, *inputs))
    sent, received = _classes(infos[: len(outputs)]), _classes(infos[len(outputs) :])
    both = sent.keys() & received.keys()
    if both:
        raise ValueError(f"shapes both sent and received: {sorted(both)}")
    _, schemas = msgspec.json.schema_components((*outputs, *inputs), ref_template=REF_TEMPLATE)
    classes = {**sent, **received}
    if set(schemas) != set(classes):  # msgspec renames classes whose names collide
        raise ValueError(f"component names differ: {sorted(set(schemas) ^ set(classes))}")
    for name, schema in schemas.items():
        schema.pop("title", None)  # the component's name already
        info = classes[name]
        if isinstance(info, mi.EnumType):
            _enum(schema, info.cls)
        elif name in sent:
            _sent(schema, info)
        else:
            _received(schema)
        for prop in schema.get("properties", {}).values():
            _compact(prop)
    return {name: schemas[name] for name in sorted(schemas)}


def _compact(prop: Schema) -> None:
    """``anyOf: [{type: X, ...}, {type: null}]`` as ``type: [X, null], ...`` (not for a $ref)."""
    choices = prop.get("anyOf")
    if not (isinstance(choices, list) and len(choices) == 2 and choices[1] == {"type": "null"}):
        return
    first: Schema = choices[0]
    if isinstance(first.get("type"), str) and "$ref" not in first:
        del prop["anyOf"]
        prop.update(first, type=[first["type"], "null"])


def _enum(schema: Schema, cls: type[Enum]) -> None:
    values = [member.value for member in cls]
    schema["enum"] = values
    if all(isinstance(v, str) for v in values):
        schema["type"] = "string"


def _sent(schema: Schema, info: mi.DataclassType | mi.StructType) -> None:
    schema["required"] = [f.encode_name for f in info.fields if not _left_out_when_unset(f)]
    for prop in schema["properties"].values():
        prop.pop("default", None)


def _left_out_when_unset(field: mi.Field) -> bool:
    """An ``X | UnsetType = UNSET`` field: msgspec reports it optional and without default."""
    no_default = field.default is msgspec.NODEFAULT and field.default_factory is msgspec.NODEFAULT
    return not field.required and no_default


def _received(schema: Schema) -> None:
    schema["additionalProperties"] = False
    for name, prop in schema["properties"].items():
        if prop.get("default", ...) is None:
            # "X | None = None": X, optional.
            choices = [c for c in prop["anyOf"] if c != {"type": "null"}]
            schema["properties"][name] = choices[0] if len(choices) == 1 else {"anyOf": choices}


Shape = mi.DataclassType | mi.StructType | mi.EnumType


def _classes(infos: tuple[mi.Type, ...]) -> dict[str, Shape]:
    """Every dataclass, Struct and enum in msgspec's type ``infos``, by class name."""
    found: dict[str, Shape] = {}
    for info in _walk(infos, set()):
        if found.setdefault(info.cls.__name__, info).cls is not info.cls:
            raise ValueError(f"two shapes are named {info.cls.__name__}")
    return found


def _walk(node: object, seen: set[int]) -> Iterator[Shape]:
    """The shapes in type info ``node`` (a tree, or a graph for recursive types)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, Shape):
        yield node
    if isinstance(node, tuple):
        children: tuple[object, ...] = node
    elif isinstance(node, msgspec.Struct):
        children = msgspec.structs.astuple(node)
    else:
        return
    for child in children:
        yield from _walk(child, seen)


@functools.cache
def derived() -> dict[str, Schema]:
    """The document's component schemas, derived on first use (~15 ms: not at import)."""
    return components(OUTPUTS, INPUTS)
