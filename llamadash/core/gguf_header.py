"""The metadata of a GGUF file, read fast enough to ask before every start.

gguf's own ``GGUFReader`` builds a numpy view per array element: on Gemma 3 270M (a 262,144-token
vocabulary) it took 25 s here, and its tensor list is not needed for an estimate. This reader
walks the header with ``struct`` and keeps scalars, strings, the length of every array and the
values of short numeric arrays (per-layer head counts): 0.1 s on the same file. The value types
and their codes are gguf's (llama.cpp's own), imported when a file is read.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path
from typing import Any

# A numeric array up to this long is kept (per-layer hyperparameters); longer ones (token
# scores, types) only by their length.
SHORT_ARRAY = 1024
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")


class ArrayInfo:
    """An array field: its length, and its values when short and numeric."""

    __slots__ = ("length", "values")

    def __init__(self, length: int, values: tuple[Any, ...] | None) -> None:
        self.length = length
        self.values = values

    def __repr__(self) -> str:
        return f"ArrayInfo(length={self.length}, values={self.values!r})"


def model_files(path: Path) -> list[Path]:
    """Every file of a model: all parts of a split ``*-00001-of-0000N.gguf``, else ``[path]``.

    Raises:
        ValueError: a part of a split model is missing (named).
    """
    match = _SPLIT.match(path.name)
    if match is None:
        return [path]
    count = int(match["count"])
    parts = [
        path.with_name(f"{match['stem']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)
    ]
    absent = [part.name for part in parts if not part.is_file()]
    if absent:
        raise ValueError(f"{path}: split model is missing {', '.join(absent)}")
    return parts


def read_metadata(path: Path) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (the first part of a split one holds it all).

    Raises:
        ValueError: the file cannot be read or is not a well-formed GGUF (the message names it).
    """
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _Walker(data).metadata()
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
        # OSError: missing or unreadable; ValueError: empty (mmap), not GGUF, an unknown type;
        # struct.error: the header ends early.
        raise ValueError(f"{path}: not a readable GGUF file ({exc})") from exc


class _Walker:
    """One pass over the header, little-endian (the byte order llama.cpp reads)."""

    def __init__(self, data: mmap.mmap) -> None:
        import gguf  # here: it pulls numpy, which only this path needs

        self.data = data
        self.offset = 0
        self.types = gguf.GGUFValueType
        self.magic = gguf.GGUF_MAGIC
        # struct codes of the scalar types, by gguf's own type enum.
        kinds = gguf.GGUFValueType
        self.scalar = {
            kinds.UINT8: "B",
            kinds.INT8: "b",
            kinds.UINT16: "H",
            kinds.INT16: "h",
            kinds.UINT32: "I",
            kinds.INT32: "i",
            kinds.FLOAT32: "f",
            kinds.BOOL: "?",
            kinds.UINT64: "Q",
            kinds.INT64: "q",
            kinds.FLOAT64: "d",
        }

    def metadata(self) -> dict[str, Any]:
        if len(self.data) < 24:
            raise ValueError("GGUF header is shorter than 24 bytes")
        (magic,) = self._take("<I")
        if magic != self.magic:
            raise ValueError(f"GGUF magic missing (first bytes {bytes(self.data[:4])!r})")
        (version,) = self._take("<I")
        if version & 0xFFFF == 0:
            raise ValueError("GGUF file is big-endian, which llama.cpp does not load here")
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old (v2 or later)")
        _, kv_count = self._take("<QQ")
        fields: dict[str, Any] = {}
        for _ in range(kv_count):
            key = self._string()
            (raw_type,) = self._take("<I")
            fields[key] = self._value(raw_type)
        return fields

    def _take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return values

    def _string(self) -> str:
        (length,) = self._take("<Q")
        end = self.offset + length
        if end > len(self.data):
            raise ValueError(f"GGUF string of {length} bytes runs past the end of the file")
        text = self.data[self.offset : end].decode("utf-8")
        self.offset = end
        return text

    def _value(self, raw_type: int) -> Any:
        kind = self.types(raw_type)
        if kind == self.types.STRING:
            return self._string()
        if kind == self.types.ARRAY:
            item_type, length = self._take("<IQ")
            return self._array(self.types(item_type), length)
        code = self.scalar.get(kind)
        if code is None:
            raise ValueError(f"GGUF value type {kind} is not readable")
        return self._take("<" + code)[0]

    def _array(self, kind: Any, length: int) -> ArrayInfo:
        code = self.scalar.get(kind)
        if code is not None:
            size = struct.calcsize(code) * length
            if self.offset + size > len(self.data):
                raise ValueError(f"GGUF array of {length} items runs past the end of the file")
            if length <= SHORT_ARRAY:
                return ArrayInfo(length, self._take(f"<{length}{code}"))
            self.offset += size
            return ArrayInfo(length, None)
        if kind == self.types.STRING:
            # Each string carries its own length: walk them, decode none (a vocabulary).
            data, offset, unpack = self.data, self.offset, struct.Struct("<Q").unpack_from
            for _ in range(length):
                offset += 8 + unpack(data, offset)[0]
            if offset > len(data):
                raise ValueError(f"GGUF string array of {length} items runs past the end")
            self.offset = offset
            return ArrayInfo(length, None)
        if kind == self.types.ARRAY:
            for _ in range(length):  # nested arrays: skipped, never needed for an estimate
                item_type, inner = self._take("<IQ")
                self._array(self.types(item_type), inner)
            return ArrayInfo(length, None)
        raise ValueError(f"GGUF array item type {kind} is not readable")
