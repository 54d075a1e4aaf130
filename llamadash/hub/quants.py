"""Quant names: parsing, ranking, grouping a repo's files into the models it offers.

A repo usually holds one GGUF per quant (``model.Q4_K_M.gguf``, ``model-q4_k_m.gguf``,
``model-UD-Q4_K_XL.gguf``), sometimes split into parts (``…-00001-of-00003.gguf``) and often
with files that are not a model to run on their own (``mmproj-…``, ``imatrix…``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Without a quant, the first of these the repo has is pulled: the usual best size/quality
# trade-off first, then larger, then the small i-quants, then the rest.
PREFERENCE = (
    "Q4_K_M",
    "Q4_K_S",
    "Q5_K_M",
    "Q5_K_S",
    "Q6_K",
    "Q8_0",
    "IQ4_XS",
    "IQ4_NL",
    "Q4_0",
    "Q3_K_L",
    "Q3_K_M",
    "IQ3_M",
    "Q3_K_S",
    "IQ3_XS",
    "Q2_K",
    "IQ2_M",
    "BF16",
    "F16",
    "F32",
)
# Files that only help another model (vision projector, importance matrix): never pulled
# as the model unless asked for by name.
AUXILIARY = ("mmproj", "imatrix")
_QUANT = re.compile(
    r"(?:^|[-_.])(?P<quant>(?:UD[-_])?(?:I?Q\d(?:_[0-9A-Z]+)*|TQ\d_\d|MXFP4(?:_MOE)?|BF16|F16|F32))"
    r"(?=$|[-_.])",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"-(?P<index>\d{5})-of-(?P<count>\d{5})$")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repo: its path in the repo, size and the sha256 the Hub records."""

    path: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class QuantChoice:
    """One runnable model of a repo: a quant and its file(s) (every part of a split one)."""

    quant: str
    files: tuple[RemoteFile, ...]

    @property
    def size(self) -> int:
        """Bytes of every part together."""
        return sum(f.size for f in self.files)

    @property
    def first(self) -> RemoteFile:
        """The file llama-server is given (the first part of a split model)."""
        return self.files[0]


def quant_of(filename: str) -> str | None:
    """The quant named in a GGUF file name, upper-cased (``UD-Q4_K_XL``), or None."""
    stem = _SPLIT.sub("", _basename(filename).removesuffix(".gguf"))
    found = [m["quant"] for m in _QUANT.finditer(stem)]
    if not found:
        return None
    quant = found[-1].upper()
    return "UD-" + quant[3:] if quant.startswith("UD_") else quant


def same_quant(a: str, b: str) -> bool:
    """Quant names compared in any spelling (``q4_k_m`` = ``Q4-K-M``)."""
    return a.upper().replace("-", "_") == b.upper().replace("-", "_")


def is_auxiliary(filename: str) -> bool:
    """A projector or importance matrix, not a model to run by itself."""
    name = _basename(filename).lower()
    return any(word in name for word in AUXILIARY)


def choices(files: Iterable[RemoteFile], *, auxiliary: bool = False) -> list[QuantChoice]:
    """The runnable models among ``files``, best first (see PREFERENCE), split parts together.

    A split model whose parts are not all listed is left out (it could not be loaded).
    """
    groups: dict[str, list[RemoteFile]] = {}
    for file in files:
        if not file.path.lower().endswith(".gguf") or (is_auxiliary(file.path) and not auxiliary):
            continue
        stem = file.path.removesuffix(".gguf")
        groups.setdefault(_SPLIT.sub("", stem), []).append(file)
    found: list[QuantChoice] = []
    for stem, parts in groups.items():
        parts.sort(key=lambda f: f.path)
        match = _SPLIT.search(parts[0].path.removesuffix(".gguf"))
        if match and len(parts) != int(match["count"]):
            continue
        found.append(QuantChoice(quant_of(parts[0].path) or _basename(stem), tuple(parts)))
    return sorted(found, key=_rank)


def pick(available: list[QuantChoice], wanted: str | None) -> QuantChoice | None:
    """The choice named ``wanted`` (any spelling), or the best one; None when none fits."""
    if wanted is None:
        return available[0] if available else None
    for choice in available:
        if same_quant(choice.quant, wanted):
            return choice
    return None


def _rank(choice: QuantChoice) -> tuple[int, int, str]:
    upper = choice.quant.upper()
    position = PREFERENCE.index(upper) if upper in PREFERENCE else len(PREFERENCE)
    return (position, choice.size, choice.first.path)


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
