"""Apply a request's ``X-Agent-Flags`` to the pool: request fields, or a variant instance."""

from __future__ import annotations

import asyncio
from typing import Any

from llamadash.core.agent_flags import (
    AgentFlagsError,
    HelpSections,
    parse_sections,
    split_flags,
    variant_of,
)
from llamadash.core.pool import Pool


class FlagRouting:
    """Splits agent flags with the installed llama-server's ``--help`` (parsed once per build)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._sections: dict[str, HelpSections] = {}

    async def apply(self, profile_id: str, header: str) -> tuple[str, dict[str, Any]]:
        """The profile (or its variant) to run and the request fields the flags set.

        Raises:
            AgentFlagsError: naming the flag that is unknown, owned or malformed, or why the
                flags cannot be checked now.
        """
        profile = self.pool.profiles.get(profile_id)
        if profile is None:
            raise AgentFlagsError(f"no profile with id {profile_id!r}")
        flags = split_flags(header, await self._sections_for(profile_id))
        if not flags.startup:
            return profile_id, flags.fields
        variant = variant_of(profile, flags.startup)
        profiles = self.pool.profiles.with_variant(variant)
        if profiles is not self.pool.profiles:  # every instance sees it (they share the set)
            self.pool.foreground.replace_profiles(profiles)
            self.pool.replace_profiles(self.pool.foreground.profiles)
        return variant.id, flags.fields

    async def _sections_for(self, profile_id: str) -> HelpSections:
        foreground = self.pool.foreground
        profile = self.pool.profiles.get(profile_id)
        assert profile is not None
        spec = foreground.launch_spec(profile)
        source = await asyncio.to_thread(foreground.runtime.help_source, spec)
        if isinstance(source, str):
            raise AgentFlagsError(f"X-Agent-Flags cannot be checked now: {source}")
        key, fetch = source
        if key not in self._sections:
            text = await asyncio.to_thread(foreground.flag_cache.help_text, key, fetch)
            if not text:
                raise AgentFlagsError("X-Agent-Flags cannot be checked: --help gave no flags")
            self._sections[key] = parse_sections(text)
        return self._sections[key]
