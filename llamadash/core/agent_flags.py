"""Per-request llama-server flags (``X-Agent-Flags: --top-k 20 --cache-type-k q8_0``).

Which flag is which comes from the installed llama-server's own ``--help``: a flag of its
"sampling params" section becomes a field of the request body (``--top-k 20`` →
``"top_k": 20``); any other flag is startup-only and selects a variant of the profile — the
same profile with those flags added, run as an instance of its own (id ``<profile>+<hash>``).
A flag the server does not know, or one llamadash owns (host, port, model, alias…), is refused
with the reason. The header is split like a shell would split it, and never run by one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

from llamadash.core.flags import describe_unknown, flag_name, line_flags, unknown_flags
from llamadash.core.owned import KEY_FLAGS, OWNED_FLAGS
from llamadash.core.profiles import Profile

_SECTION = re.compile(r"^-{3,}\s*(.+?)\s+params\s*-{3,}\s*$")
# llama-server's JSON names for the few sampling flags whose long name differs from them.
FIELD_NAMES = {
    "mirostat_lr": "mirostat_eta",
    "mirostat_ent": "mirostat_tau",
    "dynatemp_exp": "dynatemp_exponent",
    "dry_sequence_breaker": "dry_sequence_breakers",
    "sampling_seq": "samplers",
}
LIST_FIELDS = frozenset({"dry_sequence_breakers"})
# Per-request fields outside the sampling section of --help.
REQUEST_FLAGS = {"-n": "n_predict", "--predict": "n_predict", "--n-predict": "n_predict"}
KEY_OF_FLAG = {spelling: key for key, spellings in KEY_FLAGS.items() for spelling in spellings}


class AgentFlagsError(ValueError):
    """A header llamadash cannot apply: the message names the flag and what to do."""


@dataclass(frozen=True)
class HelpSections:
    """Each flag of ``--help`` → its section, and each flag → all its spellings."""

    section: dict[str, str]
    spellings: dict[str, tuple[str, ...]]


def parse_sections(text: str) -> HelpSections:
    """Read ``llama-server --help``: ``----- sampling params -----`` headings and flag lines."""
    section, spellings = {}, {}
    current = "common"
    for line in text.splitlines():
        stripped = line.strip()
        if (heading := _SECTION.match(stripped)) is not None:
            current = heading.group(1).lower()
            continue
        names = line_flags(stripped)
        for name in names:
            section[name] = current
            spellings[name] = tuple(names)
    return HelpSections(section, spellings)


@dataclass(frozen=True)
class AgentFlags:
    """A header, split: request fields, and the startup flags of a variant (sorted)."""

    fields: dict[str, Any] = field(default_factory=dict)
    startup: tuple[tuple[str, ...], ...] = ()


def split_flags(header: str, help_sections: HelpSections) -> AgentFlags:
    """Split ``header`` into request fields and startup-only flags.

    Raises:
        AgentFlagsError: malformed quoting, a value without a flag, an unknown or owned flag.
    """
    try:
        words = shlex.split(header)
    except ValueError as exc:
        raise AgentFlagsError(f"X-Agent-Flags: {exc}") from None
    fields: dict[str, Any] = {}
    startup: list[tuple[str, ...]] = []
    index = 0
    while index < len(words):
        word = words[index]
        name = flag_name(word)
        if name is None:
            raise AgentFlagsError(f"X-Agent-Flags: {word!r} is a value without a flag before it")
        _check_allowed(name, help_sections)
        value: str | None = word.split("=", 1)[1] if "=" in word else None
        if value is None and index + 1 < len(words) and flag_name(words[index + 1]) is None:
            index += 1
            value = words[index]
        index += 1
        if help_sections.section.get(name) == "sampling" or name in REQUEST_FLAGS:
            key = REQUEST_FLAGS.get(name) or _field(name, help_sections)
            fields[key] = [_scalar(value)] if key in LIST_FIELDS else _scalar(value)
        else:
            startup.append((name,) if value is None else (name, value))
    return AgentFlags(fields, tuple(sorted(startup)))


def _check_allowed(name: str, help_sections: HelpSections) -> None:
    if name in OWNED_FLAGS and name not in KEY_OF_FLAG:
        long_form, why = OWNED_FLAGS[name]
        raise AgentFlagsError(f"X-Agent-Flags: {long_form} {why}")
    if name not in help_sections.section and name not in REQUEST_FLAGS:
        problems = unknown_flags([name], help_sections.section)
        raise AgentFlagsError(f"X-Agent-Flags: {describe_unknown(problems)}")


def _field(name: str, help_sections: HelpSections) -> str:
    """The JSON field of a sampling flag: its longest long spelling, ``-`` → ``_``."""
    longs = [s for s in help_sections.spellings.get(name, (name,)) if s.startswith("--")]
    chosen = max(longs or [name], key=len).lstrip("-").replace("-", "_")
    return FIELD_NAMES.get(chosen, chosen)


def _scalar(value: str | None) -> Any:
    """``20`` → 20, ``0.5`` → 0.5, ``true`` → True, JSON objects as such; no value → True."""
    if value is None:
        return True
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, int | float | bool | dict | list) else value


def variant_of(profile: Profile, startup: tuple[tuple[str, ...], ...]) -> Profile:
    """``profile`` with the startup flags added: keys for the flags profiles have keys for."""
    digest = hashlib.sha256(repr(startup).encode()).hexdigest()[:8]
    changes: dict[str, Any] = {}
    extra: list[str] = []
    for flag in startup:
        key = KEY_OF_FLAG.get(flag[0])
        if key is None:
            extra += flag
            continue
        if len(flag) < 2:
            raise AgentFlagsError(f"X-Agent-Flags: {flag[0]} needs a value")
        if key == "ot":
            changes["ot"] = (*changes.get("ot", profile.ot), flag[1])
            continue
        try:
            changes[key] = int(flag[1])
        except ValueError:
            raise AgentFlagsError(f"X-Agent-Flags: {flag[0]} wants a number") from None
    shown = " ".join(" ".join(f) for f in startup)
    return replace(
        profile,
        id=f"{profile.base_id}+{digest}",
        name=f"{profile.name} [{shown}]",
        extra=(*profile.extra, *extra),
        variant_of=profile.base_id,
        variant_flags=startup,
        **changes,
    )
