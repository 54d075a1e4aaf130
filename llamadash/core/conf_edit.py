"""Edit models.conf from the command line, keeping every other line exactly as it was.

``pull --profile`` and ``profile add|set|rm`` change one section and nothing else: comments,
blank lines, the order, the spelling of untouched entries and the file's line endings stay.
The result is parsed as a load would parse it before it replaces the file (atomically), so a
change that would break models.conf is refused with the reason and leaves the file alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from llamadash.core.envfile import atomic_write, line_ending, split_lines
from llamadash.core.inifile import ConfigError, parse_ini
from llamadash.core.profiles import DEFAULTS_SECTION, SETTINGS_SECTION, parse_profiles
from llamadash.core.settings import load_settings

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RESERVED = (DEFAULTS_SECTION, SETTINGS_SECTION)


@dataclass(frozen=True)
class _Span:
    """Where one entry sits: its first line and the continuation lines after it (0-based)."""

    key: str
    start: int
    end: int  # exclusive


def check_id(profile_id: str) -> None:
    """A profile id must be a plain word a section header can hold.

    Raises:
        ConfigError: a reserved or malformed id.
    """
    if profile_id in RESERVED or not _ID.match(profile_id):
        raise ConfigError(
            "profile id",
            None,
            f"{profile_id!r} cannot be a profile id (letters, digits, '.', '_', '-';"
            f" not {' or '.join(RESERVED)})",
        )


def add_section(text: str, profile_id: str, values: Mapping[str, str]) -> str:
    """``text`` with a new ``[profile_id]`` section holding ``values`` appended at the end.

    Raises:
        ConfigError: the id is taken or not valid.
    """
    check_id(profile_id)
    if any(s.name == profile_id for s in parse_ini(text, "models.conf")):
        raise ConfigError("models.conf", None, f"profile [{profile_id}] exists already")
    eol = line_ending(text) if text else "\n"
    lines = split_lines(text, eol)
    if lines and lines[-1].strip():
        lines.append(eol)
    lines.append(f"[{profile_id}]{eol}")
    lines += [f"{key} = {_one_line(key, value)}{eol}" for key, value in values.items()]
    return "".join(lines)


def set_keys(text: str, profile_id: str, values: Mapping[str, str]) -> str:
    """``text`` with keys of ``[profile_id]`` set in place (an empty value removes the key).

    A key already in the section keeps its line (and a trailing comment); a repeated key
    (``ot``) becomes the one line; a new key goes after the section's last entry.

    Raises:
        ConfigError: there is no such section.
    """
    eol = line_ending(text)
    lines = split_lines(text, eol)
    header, spans = _section(lines, text, profile_id)
    insert_at = spans[-1].end if spans else header + 1
    replaced: dict[int, str] = {}
    dropped: set[int] = set()
    added: list[str] = []
    for key, value in values.items():
        mine = [s for s in spans if s.key == key.lower()]
        kept = mine[0] if value and mine else None
        if kept is not None:
            replaced[kept.start] = _replace_value(lines[kept.start], key, value, eol)
            dropped.update(range(kept.start + 1, kept.end))
        elif value:
            added.append(f"{key.lower()} = {_one_line(key, value)}{eol}")
        for span in mine:
            if span is not kept:
                dropped.update(range(span.start, span.end))
    out: list[str] = []
    for index, line in enumerate(lines):
        if index == insert_at:
            out += added
        if index in replaced:
            out.append(replaced[index])
        elif index not in dropped:
            out.append(line)
    if insert_at >= len(lines):
        out += added
    return "".join(out)


def remove_section(text: str, profile_id: str) -> str:
    """``text`` without ``[profile_id]``: its header, entries and the lines among them.

    Comments after its last entry stay (they may introduce the next section).

    Raises:
        ConfigError: there is no such section.
    """
    eol = line_ending(text)
    lines = split_lines(text, eol)
    header, spans = _section(lines, text, profile_id)
    end = spans[-1].end if spans else header + 1
    start = header - 1 if header > 0 and not lines[header - 1].strip() else header
    return "".join(lines[:start] + lines[end:])


def write_checked(path: Path, text: str, environ: Mapping[str, str] | None = None) -> None:
    """Parse ``text`` as a load would (profiles and settings), then replace ``path`` with it.

    Raises:
        ConfigError: the new text would not load (the file is left as it was).
    """
    profiles = parse_profiles(text, path)
    load_settings(profiles, environ={} if environ is None else environ)
    atomic_write(path, text)


def _section(lines: list[str], text: str, profile_id: str) -> tuple[int, list[_Span]]:
    for section in parse_ini(text, "models.conf"):
        if section.name == profile_id:
            spans = [
                _Span(e.key, e.line - 1, _continued(lines, e.line - 1)) for e in section.entries
            ]
            return section.line - 1, spans
    raise ConfigError("models.conf", None, f"no profile [{profile_id}]")


def _continued(lines: list[str], start: int) -> int:
    """The index after an entry's continuation lines (indented, non-blank, not a comment)."""
    end = start + 1
    while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip():
        if lines[end].strip()[0] in "#;":
            break
        end += 1
    return end


def _replace_value(line: str, key: str, value: str, eol: str) -> str:
    """The entry line with its value replaced; an inline `` # comment`` is kept."""
    body = line.rstrip("\r\n")
    comment = ""
    for marker in (" #", "\t#", " ;", "\t;"):
        index = body.find(marker, body.find("=") + 1 if "=" in body else 0)
        if index >= 0:
            while index > 0 and body[index - 1] in " \t":  # keep the user's spacing
                index -= 1
            comment = body[index:]
            break
    return f"{key.lower()} = {_one_line(key, value)}{comment}{eol}"


def _one_line(key: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ConfigError("models.conf", None, "a value must be one line", key=key)
    return value.strip()
