"""Host names: the default host's, and the ``[host NAME]`` section spelling (one source)."""

from __future__ import annotations

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
