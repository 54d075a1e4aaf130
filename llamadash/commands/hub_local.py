"""``llamadash list`` and ``rm``: the models in models_dir; ``info FILE.gguf``: its metadata."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from llamadash.commands.common import emit_json, fail
from llamadash.commands.owner import read_config_lenient

EXIT_FAILED, EXIT_USAGE = 1, 2


def list_models(args: argparse.Namespace) -> int:
    """Local models: repo, quant, size, modified, the profiles that use each; the total."""
    from llamadash.hub.local import local_models, profiles_using

    profiles, settings, _ = read_config_lenient(args)
    models_dir = settings.models_dir
    rows: list[dict[str, Any]] = [
        {
            "model": m.label(models_dir),
            "quant": m.quant,
            "path": str(m.path),
            "files": len(m.files),
            "size": m.size,
            "modified": time.strftime("%Y-%m-%d %H:%M", time.localtime(m.modified)),
            "profiles": profiles_using(m, profiles.profiles, models_dir),
        }
        for m in local_models(models_dir)
    ]
    total = sum(int(r["size"]) for r in rows)
    if args.json:
        emit_json({"models_dir": str(models_dir), "models": rows, "total": total})
        return 0
    if not rows:
        print(f"no models in {models_dir} (get one: llamadash pull USER/REPO)")
        return 0
    width = max(len(str(r["model"])) for r in rows)
    for row in rows:
        used = ", ".join(row["profiles"]) or "-"
        print(
            f"{row['model']:<{width}}  {row['quant'] or '?':<10} {human(int(row['size'])):>9}"
            f"  {row['modified']}  {used}"
        )
    print(f"{len(rows)} models, {human(total)} in {models_dir}")
    return 0


def rm(args: argparse.Namespace) -> int:
    """Remove a pulled model (asks first); refuses one a running server has loaded."""
    from llamadash.core.model_ref import BadReferenceError, parse_ref
    from llamadash.hub.local import local_models, matching, partials_of, servers_using

    try:
        ref = parse_ref(args.ref)
    except BadReferenceError as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    _, settings, _ = read_config_lenient(args)
    models_dir = settings.models_dir
    found = matching(local_models(models_dir), ref.repo, ref.quant)
    if not found:
        return fail(
            f"error: no local model {ref} in {models_dir} (see llamadash list)", EXIT_FAILED
        )
    for model in found:
        if pids := servers_using(model, models_dir):
            return fail(
                f"error: {model.path.name} is loaded by a running server (pid"
                f" {', '.join(map(str, pids))}): stop it first (llamadash stop)",
                EXIT_FAILED,
            )
    listed = ", ".join(f"{m.quant or m.path.name} ({human(m.size)})" for m in found)
    if not args.yes and not _confirm(f"remove {ref.repo}: {listed}? [y/N] "):
        return fail("nothing removed (pass --yes to remove without asking)", EXIT_FAILED)
    try:
        for model in found:
            for path in (*model.files, *partials_of(model)):
                path.unlink(missing_ok=True)
            _prune(model.path.parent, models_dir)
    except OSError as exc:
        return fail(f"error: cannot remove {exc.filename}: {exc.strerror or exc}", EXIT_FAILED)
    if args.json:
        emit_json({"removed": [str(f) for m in found for f in m.files]})
    else:
        print(f"removed {ref.repo}: {listed}")
    return 0


def info_file(args: argparse.Namespace, path: Path) -> int:
    """A local GGUF's metadata: architecture, parameters, trained context, quant, layers."""
    from llamadash.core.gguf_header import read_metadata
    from llamadash.hub.quants import quant_of

    try:
        meta = read_metadata(path)
    except ValueError as exc:
        return fail(f"error: {exc}", EXIT_FAILED)
    arch = str(meta.get("general.architecture", "?"))
    facts: dict[str, Any] = {
        "file": str(path),
        "size": path.stat().st_size,
        "name": meta.get("general.name"),
        "architecture": arch,
        "parameters": meta.get("general.size_label"),
        "context_length": meta.get(f"{arch}.context_length"),
        "layers": meta.get(f"{arch}.block_count"),
        "embedding": meta.get(f"{arch}.embedding_length"),
        "quant": _file_type(meta.get("general.file_type")) or quant_of(path.name),
        "chat_template": "tokenizer.chat_template" in meta,
    }
    if args.json:
        emit_json(facts)
        return 0
    for key, value in facts.items():
        shown = human(value) if key == "size" else ("n/a" if value is None else value)
        print(f"{key:<15} {shown}")
    return 0


def human(size: int) -> str:
    """``253.1 MB`` (decimal units, as the Hub shows sizes)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _file_type(code: object) -> str | None:
    if not isinstance(code, int):
        return None
    import gguf

    try:
        return str(gguf.LlamaFileType(code).name).removeprefix("MOSTLY_")
    except ValueError:
        return None


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _prune(folder: Path, models_dir: Path) -> None:
    """Remove the now-empty repo and user folders (never models_dir itself)."""
    while folder != models_dir and models_dir in folder.parents and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
