"""What the installed llama-server accepts, parsed from its ``--help``, and profile checks.

A typo in a flag should fail in milliseconds before the running server is stopped, not after
a 60-second restart. ``--help`` is parsed once per binary/image and cached in the state dir.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
_NUMBER = re.compile(r"^-\d*\.?\d+(?:[eE][-+]?\d+)?$")


def parse_help(text: str) -> frozenset[str]:
    """Every flag named in the flag column of ``llama-server --help``."""
    return frozenset(name for line in text.splitlines() for name in line_flags(line))


def line_flags(line: str) -> list[str]:
    """The spellings of the flag one ``--help`` line names ([] for any other line)."""
    stripped = line.strip()
    if not stripped.startswith("-"):
        return []
    # "-ngl,  --gpu-layers, --n-gpu-layers N   description, maybe, with commas": names
    # are comma-separated; the description begins after a run of 2+ spaces.
    names: list[str] = []
    for part in stripped.split(","):
        match = _FLAG.match(part.strip())
        if match is None:
            break
        names.append(match.group(1))
        if re.search(r"\S\s{2,}\S", part.strip()):
            break
    return names


def flag_name(arg: str) -> str | None:
    """The flag ``arg`` names as llama-server reads it, or None for a value (``-1``, ``-``).

    ``--ctx_size=4096`` → ``--ctx-size``: llama-server turns ``_`` into ``-`` in long flags, and
    the ``=`` form is cut at the ``=`` so no spelling slips past a check.
    """
    if not arg.startswith("-") or _NUMBER.match(arg) or arg == "-":
        return None
    flag = arg.split("=", 1)[0]
    return flag.replace("_", "-") if flag.startswith("--") else flag


def unknown_flags(args: Sequence[str], known: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Flags in ``args`` the server does not accept, each with close matches."""
    known_set = frozenset(known)
    problems: list[tuple[str, list[str]]] = []
    for arg in args:
        flag = flag_name(arg)
        if flag is not None and flag not in known_set:
            problems.append((flag, _close(flag, known_set)))
    return problems


def describe_unknown(problems: list[tuple[str, list[str]]]) -> str:
    """One readable sentence for :func:`unknown_flags`' result."""
    parts = []
    for flag, near in problems:
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        parts.append(f"{flag}{hint}")
    return "llama-server does not accept " + "; ".join(parts)


class FlagCache:
    """``--help`` output cached on disk by a key that changes with the binary or image."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._parsed: dict[str, frozenset[str]] = {}  # parsing --help was 4 ms of each switch

    def known_flags(self, key: str, fetch: Callable[[], str | None]) -> frozenset[str] | None:
        """Flags for ``key``; ``fetch`` produces ``--help`` text on a cache miss (None: unknown)."""
        if key in self._parsed:
            return self._parsed[key]
        text = self.help_text(key, fetch)
        flags = parse_help(text or "")
        if flags:
            self._parsed[key] = flags
        return flags or None

    def help_text(self, key: str, fetch: Callable[[], str | None]) -> str | None:
        """The ``--help`` text for ``key``, from the cache or ``fetch`` (None: unknown)."""
        import hashlib  # here: the CLI's forwarding path loads this module and never hashes

        path = self.state_dir / "flags" / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".txt")
        try:
            text: str | None = path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            text = fetch()
            if text is None or not parse_help(text):
                return None  # not cached: a failed or empty --help must not stick
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return text


def _close(flag: str, known: Iterable[str]) -> list[str]:
    """Up to three known flags close to ``flag`` (difflib loads only when one is wrong)."""
    import difflib

    return difflib.get_close_matches(flag, sorted(known), n=3)
