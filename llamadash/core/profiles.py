"""models.conf → frozen Profile objects, with errors that name file:line:key.

Each section is a profile whose id is the section name; ``[defaults]`` is inherited by every
profile and ``[llamadash]`` holds settings (see :mod:`llamadash.core.settings`).
"""

from __future__ import annotations

import difflib
import math
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from llamadash.core.flags import flag_name
from llamadash.core.inifile import ConfigError, Entry, Section, parse_ini

DEFAULTS_SECTION = "defaults"
SETTINGS_SECTION = "llamadash"

INT_KEYS = ("ctx", "ngl", "batch", "ubatch", "threads", "parallel")
PROFILE_KEYS = (
    "name",
    "model",
    "ot",
    "extra",
    "speed",
    "bench",
    "timeout",
    *INT_KEYS,
)

# --- the flags llamadash writes ----------------------------------------------------------------
# Each tuple is every spelling llama-server accepts for one flag (its --help: "-m, --model"); the
# first is the one written. The runtimes write HOST_FLAG and PORT_FLAG (as compose.yaml's
# `command:` does), server_args() the rest. `extra` may not repeat any of them: it comes last and
# the server takes the last value, so `extra = --host 0.0.0.0` would open the server to the
# network and `--port`/`--model` would make every switch wait for the wrong thing.
HOST_FLAG = ("--host",)
PORT_FLAG = ("--port",)
MODEL_FLAG = ("--model", "-m")
ALIAS_FLAG = ("--alias", "-a")
KEY_FLAGS = {
    "ctx": ("--ctx-size", "-c"),
    "ngl": ("--n-gpu-layers", "-ngl", "--gpu-layers"),
    "batch": ("--batch-size", "-b"),
    "ubatch": ("--ubatch-size", "-ub"),
    "threads": ("--threads", "-t"),
    "parallel": ("--parallel", "-np"),
    "ot": ("--override-tensor", "-ot"),
}
"""The flag each profile key becomes."""
_INSTEAD = "set port in [llamadash] instead"
_WRITTEN = (
    (HOST_FLAG, f"(llama-server listens on 127.0.0.1:<port>); {_INSTEAD}"),
    (PORT_FLAG, f"; {_INSTEAD}"),
    (MODEL_FLAG, "; set the profile's model key instead"),
    (ALIAS_FLAG, "(API clients name the model by profile id); rename the [section] instead"),
    *((flags, f"from key '{key}'; set {key} instead") for key, flags in KEY_FLAGS.items()),
)
# Not written, but each changes where or what llamadash reaches: a key it does not send
# (/metrics, /slots, /props answer 401), HTTPS it does not speak, endpoints moved under a prefix,
# two servers on one port, another model than the profile's. These stay allowed: --path
# (static files only), --no-webui, --no-slots (the collectors cope).
_KEYED = "llama-server would demand a key llamadash does not send; it listens on 127.0.0.1 only"
_TLS = "llama-server would speak HTTPS, which llamadash does not; it listens on 127.0.0.1 only"
_OTHER_MODEL = "it loads another model than the profile's; download the GGUF and set model"
_REFUSED = (
    (("--api-key",), _KEYED),
    (("--api-key-file",), _KEYED),
    (("--ssl-key-file",), _TLS),
    (("--ssl-cert-file",), _TLS),
    (("--api-prefix",), "it moves every endpoint, /health too, away from where llamadash looks"),
    (("--reuse-port",), "two servers could share the port and /health answer for the old one"),
    (("--model-url", "-mu"), _OTHER_MODEL),
    (("--hf-repo", "-hf", "-hfr"), _OTHER_MODEL),
    (("--hf-file", "-hff"), _OTHER_MODEL),
    (("--docker-repo", "-dr"), _OTHER_MODEL),
)
OWNED_FLAGS = {
    spelling: (flags[0], f"is set by llamadash {why}".replace(" ;", ";"))
    for flags, why in _WRITTEN
    for spelling in flags
} | {spelling: (flags[0], f"is refused: {why}") for flags, why in _REFUSED for spelling in flags}
"""Every spelling of a flag ``extra`` may not hold → (its long form, why and what to do)."""
DEFAULT_LOAD_TIMEOUT = 600.0
CONTAINER_MODELS_DIR = "/models"


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
    source: str = ""

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
        return next((p for p in self.profiles if p.id == profile_id), None)

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
        else:
            profile_sections.append(section)
    for entry in defaults:
        _check_key(entry, path)
    profiles = tuple(_build_profile(s, defaults, path) for s in profile_sections)
    return ProfileSet(Path(path), profiles, tuple(settings))


def _check_key(entry: Entry, path: Path | str) -> None:
    if entry.key not in PROFILE_KEYS:
        near = difflib.get_close_matches(entry.key, PROFILE_KEYS, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(PROFILE_KEYS)})"
        raise ConfigError(path, entry.line, f"unknown key{hint}", key=entry.key)


def _build_profile(section: Section, defaults: list[Entry], path: Path | str) -> Profile:
    values: dict[str, object] = {}
    for entry in [*defaults, *section.entries]:
        _check_key(entry, path)
        values[entry.key] = _convert(entry, path)
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


def _convert(entry: Entry, path: Path | str) -> object:
    value = entry.value
    if entry.key in INT_KEYS:
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(
                path, entry.line, f"not a whole number: {value!r}", entry.key
            ) from None
        if number < (-1 if entry.key == "ngl" else 1):
            raise ConfigError(path, entry.line, f"out of range: {number}", entry.key)
        return number
    if entry.key == "timeout":
        try:
            seconds = float(value)
        except ValueError:
            raise ConfigError(
                path, entry.line, f"not a number of seconds: {value!r}", entry.key
            ) from None
        if not (0 < seconds < math.inf):  # also rejects nan, which would never time out
            raise ConfigError(path, entry.line, "must be a positive number", entry.key)
        return seconds
    if entry.key == "bench":
        lowered = value.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise ConfigError(path, entry.line, f"want true or false, got {value!r}", entry.key)
        return lowered in ("true", "yes", "1", "on")
    if entry.key == "extra":
        try:
            args = tuple(shlex.split(value))
        except ValueError as exc:
            raise ConfigError(path, entry.line, f"cannot split flags: {exc}", entry.key) from None
        _refuse_owned(args, entry, path)
        return args
    return value


def _refuse_owned(args: tuple[str, ...], entry: Entry, path: Path | str) -> None:
    """Reject any spelling of an :data:`OWNED_FLAGS` flag (``-m``, ``--host=x``, ``--api_key``)."""
    for arg in args:
        name = flag_name(arg)
        if name is not None and name in OWNED_FLAGS:
            long, why = OWNED_FLAGS[name]
            written = arg.split("=", 1)[0]
            shown = written if written == long else f"{written} ({long})"
            raise ConfigError(path, entry.line, f"{shown} {why}", entry.key)
