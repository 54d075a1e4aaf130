"""A small INI reader that remembers line numbers, so every error can name file:line.

configparser loses line numbers and rejects repeated keys; models.conf needs both (``ot``
may repeat). The dialect: ``[section]`` headers, ``key = value`` (or ``key: value``),
full-line comments starting with ``#`` or ``;``, blank lines, and indented continuation lines
that append to the previous value with a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_SECTION = re.compile(r"^\[(?P<name>[^\]]*)\]\s*(?:[#;].*)?$")
_ENTRY = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)\s*[=:]\s*(?P<value>.*)$")


class ConfigError(ValueError):
    """A models.conf problem, pointing at the file, line and key that caused it."""

    def __init__(self, path: Path | str, line: int | None, message: str, key: str | None = None):
        self.path = str(path)
        self.line = line
        self.key = key
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        what = f" key '{key}':" if key else ""
        super().__init__(f"{where}:{what} {message}")


@dataclass(frozen=True)
class Entry:
    """One ``key = value`` line."""

    key: str
    value: str
    line: int


@dataclass
class Section:
    """One ``[name]`` section with its entries in file order."""

    name: str
    line: int
    entries: list[Entry] = field(default_factory=list)


def parse_ini(text: str, path: Path | str) -> list[Section]:
    """Parse INI text into sections, keeping line numbers.

    Raises:
        ConfigError: on a line that is neither a section, an entry, a comment nor a
            continuation, or an entry before the first section.
    """
    sections: list[Section] = []
    last: Entry | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if raw[0] in " \t" and last is not None:
            merged = Entry(last.key, f"{last.value} {stripped}".strip(), last.line)
            sections[-1].entries[-1] = merged
            last = merged
            continue
        if match := _SECTION.match(stripped):
            name = match["name"].strip()
            if not name:
                raise ConfigError(path, number, "empty section name '[]'")
            sections.append(Section(name, number))
            last = None
            continue
        match = _ENTRY.match(stripped)
        if match is None:
            raise ConfigError(
                path, number, f"cannot read this line: {stripped!r} (want 'key = value')"
            )
        if not sections:
            raise ConfigError(path, number, "a key before any [section]", key=match["key"])
        last = Entry(match["key"].lower(), _strip_inline_comment(match["value"]), number)
        sections[-1].entries.append(last)
    return sections


def _strip_inline_comment(value: str) -> str:
    """Drop a trailing `` # comment`` (only after whitespace, so regexes keep their ``#``)."""
    for marker in (" #", "\t#", " ;", "\t;"):
        index = value.find(marker)
        if index >= 0:
            value = value[:index]
    return value.strip()
