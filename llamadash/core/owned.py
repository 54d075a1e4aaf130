"""The llama-server flags llamadash writes or refuses, in every spelling the server accepts.

Beside the command builders (core/profiles.py ``server_args``, the runtimes' ``command``): a
test ties this table to them and to the real ``--help``.
"""

from __future__ import annotations

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
SLOT_SAVE_FLAG = ("--slot-save-path",)
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
    (SLOT_SAVE_FLAG, "(prompt caches kept across switches); set keep_cache = false instead"),
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
