"""The GGUFs already in models_dir: which repo and quant, size, age, who uses them.

Pulled models sit in ``models_dir/<user>/<repo>/``; a file elsewhere in models_dir is listed
by its path. The parts of a split model are one model. A server "uses" a model when its
command line names the file, on the host or as the container sees it (``/models/…``), so a
server started outside llamadash counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from llamadash.core.profiles import CONTAINER_MODELS_DIR, Profile
from llamadash.hub.quants import quant_of, same_quant

_LATER_PART = re.compile(r"-(?!00001)\d{5}-of-\d{5}\.gguf$")
_SPLIT = re.compile(r"-\d{5}-of-(?P<count>\d{5})\.gguf$")


@dataclass(frozen=True)
class LocalModel:
    """One model on disk (every part of a split one)."""

    path: Path
    """The file llama-server is given (the first part of a split model)."""
    files: tuple[Path, ...]
    repo: str | None
    """``user/repo`` when it sits in ``models_dir/<user>/<repo>/``."""
    quant: str | None
    size: int
    modified: float

    def label(self, models_dir: Path) -> str:
        """``user/repo`` or the path under models_dir."""
        return self.repo or str(self.path.relative_to(models_dir))


def local_models(models_dir: Path) -> list[LocalModel]:
    """Every model under ``models_dir`` (partial downloads left out), sorted by label."""
    if not models_dir.is_dir():
        return []
    found = []
    for path in sorted(models_dir.rglob("*.gguf")):
        if _LATER_PART.search(path.name) or not path.is_file():
            continue
        files = _parts(path)
        stats = [f.stat() for f in files]
        relative = path.relative_to(models_dir).parts
        found.append(
            LocalModel(
                path=path,
                files=files,
                repo="/".join(relative[:2]) if len(relative) == 3 else None,
                quant=quant_of(path.name),
                size=sum(s.st_size for s in stats),
                modified=max(s.st_mtime for s in stats),
            )
        )
    return sorted(found, key=lambda m: (m.label(models_dir), m.quant or ""))


def matching(models: Iterable[LocalModel], repo: str, quant: str | None) -> list[LocalModel]:
    """The local models of ``repo`` (of that quant, when given)."""
    return [
        m
        for m in models
        if m.repo is not None
        and m.repo.lower() == repo.lower()
        and (quant is None or (m.quant is not None and same_quant(m.quant, quant)))
    ]


def profiles_using(model: LocalModel, profiles: Iterable[Profile], models_dir: Path) -> list[str]:
    """Ids of the profiles whose model is this file."""
    target = model.path.resolve()
    return [p.id for p in profiles if p.model_path(models_dir).resolve() == target]


def servers_using(model: LocalModel, models_dir: Path) -> list[int]:
    """PIDs of running processes whose command line names one of the model's files."""
    names = set()
    for file in model.files:
        names.add(str(file))
        names.add(str(file.resolve()))
        relative = file.relative_to(models_dir).as_posix()
        names.add(f"{CONTAINER_MODELS_DIR}/{relative}")
    pids = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if names.intersection(cmdline):
            pids.append(process.pid)
    return pids


def partials_of(model: LocalModel) -> list[Path]:
    """Unfinished downloads beside the model's files (``<file>.partial``)."""
    return [p for f in model.files if (p := f.with_name(f.name + ".partial")).is_file()]


def _parts(path: Path) -> tuple[Path, ...]:
    match = _SPLIT.search(path.name)
    if match is None:
        return (path,)
    count = int(match["count"])
    stem = path.name[: match.start()]
    parts = [path.with_name(f"{stem}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    return tuple(p for p in parts if p.is_file())
