"""``llamadash profile add|set|rm ID [key=value…]``: models.conf edited from the command line.

Through core/conf_edit.py: every other line of the file stays as it was, and the result must
load (profiles and settings) before it replaces the file. The flags themselves are checked
against llama-server's --help when the profile starts, as for a hand edit.
"""

from __future__ import annotations

import argparse

from llamadash.commands.common import emit_json, fail

EXIT_USAGE = 2


def profile(args: argparse.Namespace) -> int:
    """Add, change or remove one profile of models.conf."""
    from llamadash.core.conf_edit import add_section, remove_section, set_keys, write_checked
    from llamadash.core.inifile import ConfigError

    path = args.models_conf
    try:
        values = _pairs(args.values)
        if args.action == "add" and "model" not in values:
            return fail("error: profile add needs model=FILE.gguf", EXIT_USAGE)
        if args.action == "rm" and values:
            return fail("error: profile rm takes only the id", EXIT_USAGE)
        exists = path.exists()
        text = path.read_text(encoding="utf-8") if exists else ""
        if args.action != "add" and not exists:
            return fail(f"error: {path}: file not found", EXIT_USAGE)
        if args.action == "add":
            edited = add_section(text, args.id, values)
        elif args.action == "set":
            edited = set_keys(text, args.id, values)
        else:
            edited = remove_section(text, args.id)
        write_checked(path, edited)
    except (ConfigError, OSError, UnicodeDecodeError) as exc:
        return fail(f"error: {exc} (models.conf unchanged)", EXIT_USAGE)
    if args.json:
        emit_json({"action": args.action, "id": args.id, "file": str(path), "values": values})
    else:
        done = {"add": "added to", "set": "changed in", "rm": "removed from"}[args.action]
        print(f"profile [{args.id}] {done} {path}")
    return 0


def _pairs(items: list[str]) -> dict[str, str]:
    """``key=value`` arguments, in order (``key=`` removes the key on set).

    Raises:
        ConfigError: an argument without ``=``.
    """
    from llamadash.core.inifile import ConfigError

    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("argument", None, f"{item!r}: want key=value (e.g. ctx=8192)")
        values[key.strip().lower()] = value.strip()
    return values
