"""``llamadash info`` (a Hub repo's quants, or a local GGUF's metadata) and ``search``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from llamadash.commands.common import emit_json, fail
from llamadash.commands.hub_local import human, info_file
from llamadash.commands.owner import read_config_lenient

EXIT_FAILED, EXIT_USAGE = 1, 2


def info(args: argparse.Namespace) -> int:
    """``info user/repo``: quants, sizes, which are local, the card; ``info FILE.gguf``."""
    target = Path(args.target).expanduser()
    if args.target.lower().endswith(".gguf") or target.is_file():
        if not target.is_file():
            return fail(f"error: {target}: no such file", EXIT_FAILED)
        return info_file(args, target)
    return _info_repo(args)


def _info_repo(args: argparse.Namespace) -> int:
    from llamadash.core.model_ref import BadReferenceError, parse_ref
    from llamadash.hub.pull import repo_folder
    from llamadash.hub.quants import choices
    from llamadash.hub.remote import HubError, card_excerpt, connect, repo_files

    try:
        ref = parse_ref(args.target)
    except BadReferenceError as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    _, settings, _ = read_config_lenient(args)
    folder = repo_folder(settings.models_dir, ref.repo)
    try:
        hub = connect()
        files = repo_files(hub, ref.repo)
    except HubError as exc:
        return fail(f"error: {exc}", EXIT_FAILED)
    available = choices(files, auxiliary=True)
    rows: list[dict[str, Any]] = []
    for rank, choice in enumerate(available):
        local = all(
            (folder / f.path.rsplit("/", 1)[-1]).is_file()
            and (folder / f.path.rsplit("/", 1)[-1]).stat().st_size == f.size
            for f in choice.files
        )
        rows.append(
            {
                "quant": choice.quant,
                "size": choice.size,
                "files": [f.path for f in choice.files],
                "local": local,
                "default": rank == 0,
            }
        )
    card = card_excerpt(hub, ref.repo)
    if args.json:
        emit_json({"repo": ref.repo, "endpoint": hub.endpoint, "quants": rows, "card": card})
        return 0
    print(f"{ref.repo}  ({hub.page(ref.repo)})")
    if not rows:
        print("  no GGUF files in this repo")
    for row in rows:
        parts = f"{len(row['files'])} parts" if len(row["files"]) > 1 else ""
        marks = " ".join(
            m for m, on in (("local", row["local"]), ("default", row["default"])) if on
        )
        print(f"  {row['quant']:<12} {human(int(row['size'])):>9}  {parts:<8} {marks}")
    if card:
        print("\n" + "\n".join(f"  {line}" for line in card.splitlines()))
    return 0


def search(args: argparse.Namespace) -> int:
    """GGUF repos matching the words: downloads, likes, last update."""
    from llamadash.hub.remote import HubError, connect
    from llamadash.hub.remote import search as hub_search

    words = " ".join(args.words).strip()
    if not words:
        return fail("error: search needs words, e.g. llamadash search gemma 3", EXIT_USAGE)
    try:
        hits = hub_search(connect(), words, args.limit)
    except HubError as exc:
        return fail(f"error: {exc}", EXIT_FAILED)
    if args.json:
        emit_json([hit.__dict__ for hit in hits])
        return 0
    if not hits:
        print(f"no GGUF repos match {words!r}")
        return 0
    width = max(len(h.repo) for h in hits)
    print(f"{'repo':<{width}}  {'downloads':>10} {'likes':>6}  updated     gguf files")
    for hit in hits:
        print(
            f"{hit.repo:<{width}}  {hit.downloads:>10,} {hit.likes:>6,}  {hit.modified:<10}"
            f"  {hit.gguf_files}"
        )
    return 0
