"""A pull: choose the quant, check the disk, fetch every part, suggest a profile.

Files land in ``models_dir/<user>/<repo>/`` under their own names (the folders of a repo are
flattened: the parts of a split model stay together and keep the names llama.cpp expects).
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

from llamadash.core.model_ref import ModelRef
from llamadash.hub.download import Listener, fetch, partial_path
from llamadash.hub.quants import QuantChoice, RemoteFile, choices, pick
from llamadash.hub.remote import Hub, HubError, repo_files

# Kept free beyond the download itself (logs, caches and the system need room too).
DISK_MARGIN = 512 * 1024 * 1024
# --fit counts a model as its file size plus this share for the KV cache, compute buffers and
# the process: an estimate (the metadata is not read before the download), said as one.
FIT_ALLOWANCE = 0.25
# A profile's ctx from the trained context, but no more than this: a 128 K context costs
# gigabytes of KV cache a first run rarely has (the profile's comment says so).
PROFILE_CTX_CAP = 32768


@dataclass(frozen=True)
class PullPlan:
    """What a pull will fetch and where."""

    repo: str
    choice: QuantChoice
    folder: Path

    def target(self, file: RemoteFile) -> Path:
        """Where ``file`` lands."""
        return self.folder / file.path.rsplit("/", 1)[-1]

    @property
    def model(self) -> Path:
        """The file llama-server is given (the first part of a split model)."""
        return self.target(self.choice.first)

    @property
    def missing_bytes(self) -> int:
        """Bytes still to download (complete files count as done, partial ones in part)."""
        left = 0
        for file in self.choice.files:
            target = self.target(file)
            if target.is_file() and target.stat().st_size == file.size:
                continue
            partial = partial_path(target)
            have = partial.stat().st_size if partial.is_file() else 0
            left += file.size - min(have, file.size)
        return left


def repo_folder(models_dir: Path, repo: str) -> Path:
    """``models_dir/<user>/<repo>``."""
    user, name = repo.split("/", 1)
    return models_dir / user / name


def plan(
    hub: Hub,
    ref: ModelRef,
    models_dir: Path,
    *,
    auxiliary: bool = False,
    fit_bytes: int | None = None,
) -> PullPlan:
    """The quant to pull: the one asked for, the largest within ``fit_bytes``, or the best.

    Raises:
        HubError: the repo cannot be read, holds no GGUF, not the quant asked for, or none
            fits ``fit_bytes``.
    """
    files = repo_files(hub, ref.repo)
    available = choices(files, auxiliary=auxiliary)
    if not available:
        raise HubError(
            f"{ref.repo} holds no GGUF model ({len(files)} files):"
            " look for a -GGUF repo of the same model (llamadash search NAME)"
        )
    chosen = pick(available, ref.quant) if fit_bytes is None else fit(available, fit_bytes)
    if chosen is None and fit_bytes is not None:
        smallest = min(available, key=lambda c: c.size)
        raise HubError(
            f"no quant of {ref.repo} fits {_gib(fit_bytes)}: the smallest, {smallest.quant},"
            f" needs about {_gib(needs(smallest))} (file + {FIT_ALLOWANCE:.0%}, an estimate)"
        )
    if chosen is None:
        have = ", ".join(c.quant for c in available)
        raise HubError(f"{ref.repo} has no quant {ref.quant} (it has: {have})")
    return PullPlan(ref.repo, chosen, repo_folder(models_dir, ref.repo))


def for_profile_model(pull: PullPlan, model: Path) -> PullPlan:
    """The plan landing where a profile's ``model`` points (its folder, the Hub's file names).

    Raises:
        HubError: the profile names another file than the one the Hub offers.
    """
    moved = dataclasses.replace(pull, folder=model.parent)
    if moved.model != model:
        raise HubError(
            f"{pull.repo} {pull.choice.quant} is {moved.model.name}, but the profile's model is"
            f" {model.name}: set model = … to the pulled file, or hf = … to another quant"
        )
    return moved


def needs(choice: QuantChoice) -> int:
    """The memory a quant is estimated to need for --fit (file size plus FIT_ALLOWANCE)."""
    return int(choice.size * (1 + FIT_ALLOWANCE))


def fit(available: list[QuantChoice], budget: int) -> QuantChoice | None:
    """The largest quant estimated to fit ``budget`` (the better ranked of equal sizes)."""
    fitting = [c for c in available if needs(c) <= budget]
    return max(fitting, key=lambda c: c.size, default=None)  # max keeps the first of ties


def check_disk(pull: PullPlan) -> None:
    """Refuse before the first byte when the disk cannot hold the rest of the model.

    Raises:
        HubError: too little free space (both numbers in the message).
    """
    folder = pull.folder
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    need = pull.missing_bytes + DISK_MARGIN
    if pull.missing_bytes and free < need:
        raise HubError(
            f"not enough disk for {pull.choice.quant} of {pull.repo}: it needs"
            f" {_gib(pull.missing_bytes)} (+{_gib(DISK_MARGIN)} to spare), {folder} has"
            f" {_gib(free)} free"
        )


def run(hub: Hub, pull: PullPlan, listener: Listener = lambda _: None) -> list[Path]:
    """Fetch every file of the plan not yet complete; the local paths, in part order."""
    landed = []
    for file in pull.choice.files:
        target = pull.target(file)
        if not (target.is_file() and target.stat().st_size == file.size):
            url = hub.file_url(pull.repo, file.path)
            fetch(hub, url, target, file.size, file.sha256, listener=listener)
        landed.append(target)
    return landed


def profile_values(pull: PullPlan, models_dir: Path) -> tuple[dict[str, str], str]:
    """The entries of a profile for the pulled model, and a note on its ctx ('' if none)."""
    from llamadash.core.gguf_header import read_metadata

    meta = read_metadata(pull.model)
    arch = str(meta.get("general.architecture", ""))
    trained = meta.get(f"{arch}.context_length")
    values = {
        "name": f"{pull.repo.split('/', 1)[1]} ({pull.choice.quant})",
        "model": str(pull.model.relative_to(models_dir)),
        "hf": f"{pull.repo}:{pull.choice.quant}",
    }
    note = ""
    if isinstance(trained, int) and trained > 0:
        values["ctx"] = str(min(trained, PROFILE_CTX_CAP))
        if trained > PROFILE_CTX_CAP:
            note = (
                f"ctx {PROFILE_CTX_CAP} of the {trained:,} it was trained for"
                " (raise it if memory allows)"
            )
    return values, note


def default_profile_id(pull: PullPlan) -> str:
    """``gemma-3-270m-q4_k_m`` from ``user/gemma-3-270m-GGUF`` and ``Q4_K_M``."""
    name = pull.repo.split("/", 1)[1]
    for suffix in ("-GGUF", "-gguf", "_GGUF", ".GGUF"):
        name = name.removesuffix(suffix)
    return f"{name}-{pull.choice.quant}".lower()


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"
