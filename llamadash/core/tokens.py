"""Named API tokens: ``[token NAME]`` sections of models.conf, each allowed some models only.

::

    [token ci]
    secret = env:CI_LLAMA_TOKEN   # or file:secrets/ci.token (its first line; chmod 600)
    models = tiny*, qwen-7b       # profile ids or globs over them (fnmatch, case-sensitive)
    routes = v1                   # v1 (the default): only the OpenAI-compatible routes;
                                  # all: the side API too (/switch, /instances…)

The secret itself is never written in models.conf: that file is shared, pasted into issues,
shown in error lines and rewritten by ``llamadash`` itself; an environment variable or a file
only its owner reads keeps it out of all of them. ``api_token`` keeps full access.
"""

from __future__ import annotations

import fnmatch
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llamadash.core.inifile import ConfigError, Section
from llamadash.core.profiles import ACCESS_PREFIX

TOKEN_KEYS = ("secret", "models", "routes")
ROUTE_CHOICES = ("v1", "all")
MIN_SECRET = 16  # characters: a shorter secret can be guessed over the network


@dataclass(frozen=True)
class TokenRule:
    """What one ``[token NAME]`` section says (its secret not yet read)."""

    name: str
    secret: str
    """Where the secret is: ``env:VARIABLE`` or ``file:PATH``."""
    models: tuple[str, ...]
    """Profile ids or globs; a request may use a profile whose id one of them matches."""
    all_routes: bool
    """``routes = all``: the side API too, not only the OpenAI-compatible routes."""
    path: str
    line: int

    def allows(self, profile_id: str) -> bool:
        """Whether a request with this token may use ``profile_id`` (a variant: its base)."""
        base = profile_id.split("+", 1)[0]
        return any(fnmatch.fnmatchcase(base, pattern) for pattern in self.models)

    def allowed(self, profile_ids: Iterable[str]) -> list[str]:
        """The ids of ``profile_ids`` this token may use."""
        return [pid for pid in profile_ids if self.allows(pid)]


@dataclass(frozen=True)
class NamedToken:
    """A token rule with its secret read (``repr`` leaves the secret out: never logged)."""

    rule: TokenRule
    secret: str = field(repr=False)


def parse_token(section: Section, path: Path | str) -> TokenRule:
    """One ``[token NAME]`` section.

    Raises:
        ConfigError: an unknown key, no secret or models, a literal secret, a bad route.
    """
    name = section.name[len(ACCESS_PREFIX) :].strip()
    values: dict[str, tuple[str, int]] = {}
    for entry in section.entries:
        if entry.key not in TOKEN_KEYS:
            known = ", ".join(TOKEN_KEYS)
            raise ConfigError(path, entry.line, f"unknown key in [token {name}] (known: {known})",
                              key=entry.key)  # fmt: skip
        values[entry.key] = (entry.value.strip(), entry.line)
    for key in ("secret", "models"):
        if not values.get(key, ("", 0))[0]:
            raise ConfigError(path, section.line, f"[token {name}] needs {key} = …", key=key)
    secret, secret_line = values["secret"]
    kind, colon, where = secret.partition(":")
    if not colon or kind not in ("env", "file") or not where.strip():
        raise ConfigError(
            path,
            secret_line,
            "want env:VARIABLE or file:PATH (the secret itself never goes in models.conf:"
            " the file is shared and rewritten)",
            key="secret",
        )
    models = tuple(part.strip() for part in values["models"][0].split(",") if part.strip())
    routes, routes_line = values.get("routes", ("v1", section.line))
    if routes not in ROUTE_CHOICES:
        raise ConfigError(path, routes_line, f"want v1 or all, got {routes!r}", key="routes")
    return TokenRule(name, secret, models, routes == "all", str(path), section.line)


def read_secrets(
    rules: Iterable[TokenRule], environ: Mapping[str, str], main_token: str
) -> tuple[NamedToken, ...]:
    """Every rule with its secret read from the environment or its file.

    Raises:
        ConfigError: naming the section's file:line — a variable unset, a file missing or
            readable by others, a secret too short or the same as another token's.
    """
    named: list[NamedToken] = []
    for rule in rules:
        secret = _read(rule, environ)
        where = f"[token {rule.name}]"
        if len(secret) < MIN_SECRET:
            raise ConfigError(rule.path, rule.line, f"{where}: the secret is shorter than"
                              f" {MIN_SECRET} characters", key="secret")  # fmt: skip
        if secret == main_token or any(secret == other.secret for other in named):
            raise ConfigError(rule.path, rule.line, f"{where}: the secret is another token's"
                              " (each token needs its own)", key="secret")  # fmt: skip
        named.append(NamedToken(rule, secret))
    return tuple(named)


def _read(rule: TokenRule, environ: Mapping[str, str]) -> str:
    kind, _, where = rule.secret.partition(":")
    where = where.strip()
    section = f"[token {rule.name}]"
    if kind == "env":
        value = environ.get(where, "").strip()
        if not value:
            raise ConfigError(rule.path, rule.line, f"{section}: ${where} is not set",
                              key="secret")  # fmt: skip
        return value
    file = Path(where).expanduser()
    if not file.is_absolute():
        file = Path(rule.path).parent / file
    try:
        mode = file.stat().st_mode
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(rule.path, rule.line, f"{section}: cannot read {file}: {exc}",
                          key="secret") from None  # fmt: skip
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(rule.path, rule.line, f"{section}: {file} is readable by other users"
                          f" (chmod 600 {file})", key="secret")  # fmt: skip
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""
