"""models.conf → frozen Profile objects, with errors that name file:line:key.

Each section is a profile whose id is the section name; ``[defaults]`` is inherited by every
profile, ``[llamadash]`` holds settings (see :mod:`llamadash.core.settings`) and each
``[host NAME]`` another Docker engine's (core/hosts.py); a profile's ``host`` names one.
``[token NAME]`` a named API token (:mod:`llamadash.core.tokens`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from llamadash.core.hostnames import (
    DEFAULT_HOST,
    check_profile_hosts,
    checked_host,
    host_of_section,
)
from llamadash.core.inifile import ConfigError, Entry, Section, parse_ini
from llamadash.core.owned import (
    ALIAS_FLAG,
    HOST_FLAG,
    KEY_FLAGS,
    MODEL_FLAG,
    OWNED_FLAGS,
    PORT_FLAG,
)
from llamadash.core.profile_values import INT_KEYS, convert

TYPE_CHECKING = False  # as typing's, without importing typing: see commands/owner.py
if TYPE_CHECKING:
    from llamadash.core.tokens import TokenRule

__all__ = [
    "HOST_FLAG",
    "OWNED_FLAGS",
    "PORT_FLAG",
    "Profile",
    "ProfileSet",
    "UnknownProfileError",
    "load_profiles",
    "parse_profiles",
]

DEFAULTS_SECTION = "defaults"
SETTINGS_SECTION = "llamadash"
ACCESS_PREFIX = "token "  # [token NAME]: a named API token (core/tokens.py)

PROFILE_KEYS = (
    "name",
    "model",
    "ot",
    "extra",
    "speed",
    "bench",
    "timeout",
    *INT_KEYS,
    # the pool (core/pool.py): never evicted, idle seconds before a stop, devices, own port
    "pin",
    "ttl",
    "gpus",
    "port",
    "keep_cache",  # its prompt cache saved at a stop and restored at its next start
    "hf",  # where its model comes from on Hugging Face: `llamadash pull ID` fetches it
    "host",  # the [host NAME] whose engine runs it (default: the [llamadash] one)
)

DEFAULT_LOAD_TIMEOUT = 600.0
CONTAINER_MODELS_DIR = "/models"
CONTAINER_KV_DIR = "/kv"  # compose.yaml mounts LLAMA_KV_DIR here: the saved prompt caches


@dataclass(frozen=True)
class Profile:
    """One way to run llama-server: a GGUF and its startup-only flags."""

    id: str
    name: str
    model: str
    ctx: int | None = None
    ngl: int | None = None
    batch: int | None = None
    ubatch: int | None = None
    threads: int | None = None
    parallel: int | None = None
    ot: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    speed: str = ""
    bench: bool = False
    timeout: float = DEFAULT_LOAD_TIMEOUT
    pin: bool = False
    """Never evicted by the pool to make room for another instance."""
    ttl: float = 0.0
    """Idle seconds (no slot processing) before the pool stops it; 0 = never."""
    gpus: tuple[str, ...] = ()
    """Device ids it may use (CUDA_VISIBLE_DEVICES / the compose GPU reservation); () = all."""
    port: int | None = None
    """Its port when it runs alongside the foreground instance (None: one from port_range)."""
    keep_cache: bool = True
    """Save its slots' KV cache when it stops, restore it when it starts again (kv_cache.py)."""
    hf: str = ""
    """Its model's source on Hugging Face (``user/repo:QUANT``): ``llamadash pull ID``."""
    host: str = DEFAULT_HOST
    """The host (``[host NAME]``) whose Docker engine runs it."""
    source: str = ""
    variant_of: str = ""
    """The profile this one adds per-request startup flags to (core/agent_flags.py)."""
    variant_flags: tuple[tuple[str, ...], ...] = ()
    """Those flags (each with its value), sorted."""

    @property
    def base_id(self) -> str:
        """The models.conf profile behind it (its own id unless it is a variant)."""
        return self.variant_of or self.id

    def model_path(self, models_dir: Path) -> Path:
        """The GGUF on the host: absolute as written, else relative to ``models_dir``."""
        path = Path(self.model).expanduser()
        return path if path.is_absolute() else models_dir / path

    def server_args(self, model_arg: str) -> tuple[str, ...]:
        """The llama-server arguments for this profile (without host and port).

        Args:
            model_arg: the model path as the server will see it (inside the container for
                Compose, on the host for the process runtime).
        """
        args: list[str] = [MODEL_FLAG[0], model_arg, ALIAS_FLAG[0], self.id]
        for key in INT_KEYS:
            value = getattr(self, key)
            if value is not None:
                args += [KEY_FLAGS[key][0], str(value)]
        for pattern in self.ot:
            args += [KEY_FLAGS["ot"][0], pattern]
        return (*args, *self.extra)


@dataclass(frozen=True)
class ProfileSet:
    """All profiles of one models.conf, in file order."""

    path: Path
    profiles: tuple[Profile, ...]
    settings: tuple[Entry, ...] = ()
    variants: tuple[Profile, ...] = ()
    """Profiles with per-request startup flags (not in models.conf, not in the menus)."""
    hosts: tuple[Section, ...] = ()
    """The ``[host NAME]`` sections, in file order (core/hosts.py reads them)."""
    tokens: tuple[TokenRule, ...] = ()
    """The ``[token NAME]`` sections: API tokens limited to some models (core/tokens.py)."""

    @property
    def production(self) -> tuple[Profile, ...]:
        """Profiles numbered 1–N in the picker."""
        return tuple(p for p in self.profiles if not p.bench)

    @property
    def benches(self) -> tuple[Profile, ...]:
        """Profiles in the ``b`` submenu."""
        return tuple(p for p in self.profiles if p.bench)

    def get(self, profile_id: str) -> Profile | None:
        """The profile with exactly this id, or None."""
        found = next((p for p in self.profiles if p.id == profile_id), None)
        if found is None and "+" in profile_id:
            found = next((p for p in self.variants if p.id == profile_id), None)
        return found

    def with_variant(self, variant: Profile) -> ProfileSet:
        """These profiles and ``variant`` (unchanged if it is here already)."""
        if self.get(variant.id) is not None:
            return self
        return replace(self, variants=(*self.variants, variant))

    def keeping_variants(self, older: ProfileSet) -> ProfileSet:
        """These (reloaded) profiles with ``older``'s variants, made again from their bases.

        A variant follows its base profile's edits; one whose base is gone goes too.
        """
        from llamadash.core.agent_flags import variant_of

        kept = self
        for old in older.variants:
            base = self.get(old.variant_of)
            if base is not None and not base.variant_of:
                kept = kept.with_variant(variant_of(base, old.variant_flags))
        return kept

    def resolve(self, query: str) -> Profile:
        """Find a profile: exact id → menu number → id prefix → substring → fuzzy.

        Raises:
            UnknownProfileError: nothing matches, or a prefix/substring is ambiguous.
        """
        from llamadash.core.matching import resolve_profile

        return resolve_profile(self, query)


class UnknownProfileError(LookupError):
    """No profile matches a name; carries near matches and the valid ids."""

    def __init__(
        self, query: str, suggestions: Iterable[str], valid: Iterable[str], reason: str = ""
    ):
        self.query = query
        self.suggestions = tuple(suggestions)
        self.valid = tuple(valid)
        hint = f" Did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
        super().__init__(
            f"{reason or f'unknown profile {query!r}'}.{hint if self.suggestions else ''}"
            f" Valid ids: {', '.join(self.valid)}"
        )


def load_profiles(path: Path) -> ProfileSet:
    """Read models.conf.

    Raises:
        ConfigError: naming the file, line and key of the first problem found.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found (pass another with --models-conf)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read: {exc}") from None
    return parse_profiles(text, path)


def parse_profiles(text: str, path: Path | str = "models.conf") -> ProfileSet:
    """Parse models.conf text; see :func:`load_profiles`."""
    sections = parse_ini(text, path)
    defaults: list[Entry] = []
    settings: list[Entry] = []
    seen: dict[str, int] = {}
    profile_sections: list[Section] = []
    hosts: dict[str, Section] = {}
    tokens: list[TokenRule] = []
    for section in sections:
        if section.name in seen:
            raise ConfigError(
                path,
                section.line,
                f"duplicate profile id [{section.name}]"
                f" (first defined on line {seen[section.name]})",
            )
        seen[section.name] = section.line
        if section.name == DEFAULTS_SECTION:
            defaults = section.entries
        elif section.name == SETTINGS_SECTION:
            settings = section.entries
        elif host_of_section(section.name) is not None:
            hosts[checked_host(section, path)] = section
        elif section.name.startswith(ACCESS_PREFIX) and section.name[len(ACCESS_PREFIX) :].strip():
            from llamadash.core.tokens import parse_token  # only then: the CLI's light path

            tokens.append(parse_token(section, path))
        else:
            profile_sections.append(section)
    for entry in defaults:
        _check_key(entry, path)
    profiles = tuple(_build_profile(s, defaults, path) for s in profile_sections)
    check_profile_hosts(profile_sections, defaults, hosts, path)
    return ProfileSet(
        Path(path), profiles, tuple(settings), hosts=tuple(hosts.values()), tokens=tuple(tokens)
    )


def _check_key(entry: Entry, path: Path | str) -> None:
    if entry.key not in PROFILE_KEYS:
        import difflib  # only for a wrong key's hint

        near = difflib.get_close_matches(entry.key, PROFILE_KEYS, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(PROFILE_KEYS)})"
        raise ConfigError(path, entry.line, f"unknown key{hint}", key=entry.key)


def _build_profile(section: Section, defaults: list[Entry], path: Path | str) -> Profile:
    values: dict[str, object] = {}
    for entry in [*defaults, *section.entries]:
        _check_key(entry, path)
        values[entry.key] = convert(entry, path)
    # `ot` may repeat; a profile's own `ot` lines replace the inherited ones.
    own_ot = [e for e in section.entries if e.key == "ot"]
    ot_entries = own_ot or [e for e in defaults if e.key == "ot"]
    values["ot"] = tuple(
        part.strip() for e in ot_entries for part in e.value.split(";") if part.strip()
    )
    if "model" not in values or not values["model"]:
        raise ConfigError(path, section.line, f"profile [{section.name}] has no model", key="model")
    values.setdefault("name", section.name)
    return Profile(id=section.name, source=f"{path}:{section.line}", **values)  # type: ignore[arg-type]
