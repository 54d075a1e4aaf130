"""Host names: the default host's, and the ``[host NAME]`` section spelling (one source)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llamadash.core.inifile import ConfigError, Entry, Section

DEFAULT_HOST = "local"
"""The host of every profile with no ``host`` key: the engine ``[llamadash]`` names."""
HOST_SECTION_PREFIX = "host "
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def host_of_section(section_name: str) -> str | None:
    """``gpu1`` for a ``[host gpu1]`` section; None for any other section."""
    if not section_name.startswith(HOST_SECTION_PREFIX):
        return None
    return section_name.removeprefix(HOST_SECTION_PREFIX).strip()


def valid_host_name(name: str) -> bool:
    """Lower case letters, digits, ``-`` and ``_`` (it becomes part of a compose project name)."""
    return bool(name) and name[0] not in "_-" and set(name) <= _NAME_CHARS and name != DEFAULT_HOST


def checked_host(section: Section, path: Path | str) -> str:
    """The host a ``[host NAME]`` section names.

    Raises:
        ConfigError: the name is not a valid host name (at the section's line).
    """
    host = host_of_section(section.name) or ""
    if not valid_host_name(host):
        raise ConfigError(
            path,
            section.line,
            f"bad host name {host!r} in [{section.name}] (want lower case letters,"
            f" digits, - and _; not {DEFAULT_HOST!r}, the [llamadash] engine's)",
        )
    return host


def check_profile_hosts(
    sections: Iterable[Section], defaults: Iterable[Entry], hosts: Iterable[str], path: Path | str
) -> None:
    """Every ``host =`` of the profiles names a ``[host]`` section (or the default host).

    Raises:
        ConfigError: at the first ``host`` line naming none.
    """
    known = (DEFAULT_HOST, *hosts)
    defaults = tuple(defaults)
    for section in sections:
        for entry in (*defaults, *section.entries):
            if entry.key == "host" and entry.value not in known:
                raise ConfigError(
                    path, entry.line, f"no [host {entry.value}] (known: {', '.join(known)})", "host"
                )
