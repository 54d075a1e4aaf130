"""Turn what a user typed into one profile: exact id, menu number, prefix, substring, fuzzy."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llamadash.core.profiles import Profile, ProfileSet, UnknownProfileError


# ASCII digits only: str.isdigit() also takes "²", which int() then rejects.
_MENU = re.compile(r"(?P<bench>b?)(?P<number>[0-9]+)")


def menu_number(profiles: ProfileSet, query: str) -> Profile | None:
    """``"2"`` → the second production profile; ``"b1"`` → the first bench profile."""
    match = _MENU.fullmatch(query.strip().lower())
    if match is None:
        return None
    pool = profiles.benches if match["bench"] else profiles.production
    number = int(match["number"])
    return pool[number - 1] if 1 <= number <= len(pool) else None


def _no_such_number(profiles: ProfileSet, query: str, lowered: str) -> UnknownProfileError:
    """A menu number out of range: say how many there are, offer ids that hold it."""
    from llamadash.core.profiles import UnknownProfileError

    bench = lowered.startswith("b")
    count = len(profiles.benches if bench else profiles.production)
    kind, first = ("bench profile", "b1") if bench else ("profile number", "1")
    if count == 0:
        there = f"there are no {'bench' if bench else 'production'} profiles"
    else:
        there = f"there is only {first}" if count == 1 else f"there are {count} ({first}–"
        there += "" if count == 1 else f"{'b' if bench else ''}{count})"
    # An id holding the number is only suggested: "switch 6" must never start "qwen-6b".
    holding = [p.id for p in profiles.profiles if lowered in p.id.lower()]
    ids = [p.id for p in profiles.profiles]
    return UnknownProfileError(query, holding, ids, f"no {kind} {lowered}: {there}")


def resolve_profile(profiles: ProfileSet, query: str) -> Profile:
    """Resolve ``query`` to exactly one profile.

    Order: exact id → menu number → unique id prefix → unique case-insensitive substring of
    id or name → a single close fuzzy match. A number (``6``, ``b6``) that is neither an id
    nor a menu number is an error: it is never read as part of a name or as a typo.

    Raises:
        UnknownProfileError: with near matches and every valid id.
    """
    from llamadash.core.profiles import UnknownProfileError

    ids = [p.id for p in profiles.profiles]
    if (exact := profiles.get(query)) is not None:
        return exact
    if (numbered := menu_number(profiles, query)) is not None:
        return numbered
    lowered = query.strip().lower()
    if not lowered:
        raise UnknownProfileError(query, (), ids)
    same = [p for p in profiles.profiles if p.id.lower() == lowered]
    if len(same) == 1:
        return same[0]
    if _MENU.fullmatch(lowered):
        raise _no_such_number(profiles, query, lowered)
    prefixed = [p for p in profiles.profiles if p.id.lower().startswith(lowered)]
    if len(prefixed) == 1:
        return prefixed[0]
    contained = [
        p for p in profiles.profiles if lowered in p.id.lower() or lowered in p.name.lower()
    ]
    if len(contained) == 1:
        return contained[0]
    if len(contained) > 1:
        raise UnknownProfileError(query, [p.id for p in contained], ids)
    scored = _fuzzy(profiles, lowered)
    close = [pid for pid, score in scored if score >= scored[0][1] - 0.05] if scored else []
    if len(close) == 1 and scored[0][1] >= ACCEPT:
        return profiles.profiles[ids.index(close[0])]
    raise UnknownProfileError(query, [pid for pid, _ in scored[:3]], ids)


ACCEPT = 0.85  # a typo this close to exactly one profile is taken; anything less is only offered
SUGGEST = 0.6


def _fuzzy(profiles: ProfileSet, lowered: str) -> list[tuple[str, float]]:
    """(id, score) of profiles whose id, name or a word of them is close to ``lowered``."""
    scored: list[tuple[str, float]] = []
    for profile in profiles.profiles:
        words = {profile.id.lower(), profile.name.lower()}
        words |= set(re.split(r"[-_\s.()/,]+", f"{profile.id} {profile.name}".lower()))
        best = max(difflib.SequenceMatcher(None, lowered, w).ratio() for w in words if w)
        if best >= SUGGEST:
            scored.append((profile.id, best))
    return sorted(scored, key=lambda item: -item[1])
