"""The environment llamadash's children get: what each needs to run, never llamadash's secrets.

llamadash's own environment may hold LLAMADASH_API_TOKEN (the side API's bearer token),
HF_TOKEN and whatever else the user exported; a child that inherits it all can leak it (its
/proc/<pid>/environ, a crash dump, a plugin). So each child gets an allow-list instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Every child: finding programs, the user's home, locale and time zone, temp files.
_COMMON_NAMES = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR"})
_COMMON_PREFIXES = ("LC_",)

# llama-server: its library path and the GPU and maths runtimes' device and thread settings.
# Never LLAMA_*: llama-server reads one variable per flag ("env: LLAMA_ARG_HOST" in --help) plus
# LLAMA_API_KEY. The flags llamadash writes would win over them, but LLAMA_API_KEY,
# LLAMA_ARG_API_PREFIX, LLAMA_ARG_SSL_* and LLAMA_ARG_HF_REPO would not, and any other would set
# a flag behind models.conf's back; the container gets none of them either (only compose.yaml's
# environment), so both runtimes run exactly the profile.
_SERVER_NAMES = frozenset({"LD_LIBRARY_PATH", "GPU_DEVICE_ORDINAL", "ONEAPI_DEVICE_SELECTOR"})
_SERVER_PREFIXES = (
    "CUDA_",
    "NVIDIA_",
    "GGML_",
    "HIP_",
    "ROCR_",
    "HSA_",
    "SYCL_",
    "ZE_",
    "VK_",
    "OMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
)

# The docker CLI: the engine it talks to (DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG, TLS),
# Compose's own options, XDG_RUNTIME_DIR (rootless engines), ssh:// hosts, proxies. Not LLAMA_*:
# Compose reads the shell's variables before --env-file, so an exported LLAMA_ARGS beat .env.
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
_COMPOSE_NAMES = frozenset({"SSH_AUTH_SOCK", *_PROXIES, *(name.lower() for name in _PROXIES)})
_COMPOSE_PREFIXES = ("DOCKER_", "COMPOSE_", "BUILDKIT_", "XDG_")


def _pick(
    names: frozenset[str], prefixes: tuple[str, ...], environ: Mapping[str, str] | None
) -> dict[str, str]:
    source = os.environ if environ is None else environ
    names, prefixes = names | _COMMON_NAMES, prefixes + _COMMON_PREFIXES
    return {k: v for k, v in source.items() if k in names or k.startswith(prefixes)}


def server_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What llama-server (the process runtime's child) may see of ``environ`` (default: ours)."""
    return _pick(_SERVER_NAMES, _SERVER_PREFIXES, environ)


def compose_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the ``docker compose`` CLI may see of ``environ`` (default: ours)."""
    return _pick(_COMPOSE_NAMES, _COMPOSE_PREFIXES, environ)


# The dashboard a browser session runs (``llamadash web``): llamadash itself, so it keeps what
# it reads (LLAMADASH_* settings, LLAMA_SERVER, the Hub's HF_*, PYTHONPATH for a checkout) and
# what its own children are picked from; never the web listener's token, which only the
# listener checks.
_DASHBOARD_NAMES = frozenset(
    {"LLAMA_SERVER", "PYTHONPATH", "TERM", "COLORTERM", *_SERVER_NAMES, *_COMPOSE_NAMES}
)
_DASHBOARD_PREFIXES = ("LLAMADASH_", "HF_", *_SERVER_PREFIXES, *_COMPOSE_PREFIXES)
_WEB_LISTENER_ONLY = "LLAMADASH_WEB_TOKEN"


def dashboard_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a browser session's dashboard may see of ``environ`` (default: ours)."""
    picked = _pick(_DASHBOARD_NAMES, _DASHBOARD_PREFIXES, environ)
    picked.pop(_WEB_LISTENER_ONLY, None)
    return picked


# `llamadash serve` as a service (commands/service.py): what it needs to find the same
# engine, binary, state and code as the shell that installed it. The service manager sets
# HOME, USER and the login's runtime dir itself; session-bound variables (SSH_AUTH_SOCK,
# XDG_RUNTIME_DIR, XDG_SESSION_*) would be stale by the next login.
_SERVICE_NAMES = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "PYTHONPATH",
        "LLAMA_SERVER",
        "XDG_STATE_HOME",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        *_SERVER_NAMES,
    }
)
_SERVICE_PREFIXES = ("LC_", "LLAMADASH_", "DOCKER_", "COMPOSE_", *_SERVER_PREFIXES)
SERVICE_TOKEN_VARIABLE = "LLAMADASH_API_TOKEN"  # noqa: S105 (a variable's name, not a secret)
"""The variable ``service install`` never writes into the unit (it tells the user instead)."""
# Secrets stay out of a unit file (other users may read ~/.config); the path is a flag there.
_SERVICE_EXCLUDED = frozenset({SERVICE_TOKEN_VARIABLE, "LLAMADASH_MODELS_CONF"})


def service_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the ``serve`` service gets of ``environ`` (default: ours), sorted by name."""
    source = os.environ if environ is None else environ
    return {
        name: source[name]
        for name in sorted(source)
        if (name in _SERVICE_NAMES or name.startswith(_SERVICE_PREFIXES))
        and name not in _SERVICE_EXCLUDED
    }
