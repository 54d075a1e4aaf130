"""Turn what a user typed into one profile: exact id, menu number, prefix, substring, fuzzy."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llamadash.core.profiles import Profile, ProfileSet


def menu_number(profiles: ProfileSet, query: str) -> Profile | None:
    """``"2"`` → the second production profile; ``"b1"`` → the first bench profile."""
    text = query.strip().lower()
    pool = profiles.production
    if text.startswith("b") and text[1:].isdigit():
        pool, text = profiles.benches, text[1:]
    if text.isdigit() and 1 <= int(text) <= len(pool):
        return pool[int(text) - 1]
    return None


def resolve_profile(profiles: ProfileSet, query: str) -> Profile:
    """Resolve ``query`` to exactly one profile.

    Order: exact id → menu number → unique id prefix → unique case-insensitive substring of
    id or name → a single close fuzzy match.

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
    by_lower = {p.id.lower(): p.id for p in profiles.profiles}
    by_lower.update({p.name.lower(): p.id for p in profiles.profiles})
    near = difflib.get_close_matches(lowered, list(by_lower), n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys(by_lower[n] for n in near))
    if len(suggestions) == 1 and difflib.SequenceMatcher(None, lowered, near[0]).ratio() >= 0.8:
        return profiles.profiles[ids.index(suggestions[0])]
    raise UnknownProfileError(query, suggestions, ids)
