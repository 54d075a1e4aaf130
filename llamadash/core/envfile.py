r"""The block of .env that llamadash manages: render, quote, atomic write, .env.prev backup.

Lines outside the block belong to the user and are kept byte for byte, line endings included
(a marker left without its partner by a hand edit or a merge ends nothing: it is noted and the
lines after it stay the user's); the block follows the file's style (CRLF stays CRLF, which
Compose reads too). Values are written single-quoted, which Compose reads literally (no
interpolation, no escapes). LLAMA_ARGS holds the whole argument list as one string that Compose
splits (shell-words rules) when it substitutes it into ``command:``; each argument is therefore
double-quoted with ``\\`` and ``"`` escaped. A single quote, newline or NUL cannot be carried
safely and is rejected.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

BEGIN = "# >>> llamadash: managed block, regenerated on every switch; edit models.conf instead"
END = "# <<< llamadash"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_BARE = re.compile(r"^[A-Za-z0-9_./:=,+@%^-]+$")


class EnvValueError(ValueError):
    """A value that cannot be written to .env without changing its meaning."""


def check_value(name: str, value: str) -> None:
    """Reject what would break out of a single-quoted .env value.

    Raises:
        EnvValueError: naming the variable and the offending character.
    """
    for bad, label in (
        ("\n", "a newline"),
        ("\r", "a carriage return"),
        ("\0", "a NUL byte"),
        ("'", "a single quote"),
    ):
        if bad in value:
            raise EnvValueError(
                f"{name}: value contains {label}, which .env cannot carry: {value!r}"
            )


def quote_arg(arg: str) -> str:
    """Quote one argument for Compose's shell-words splitting of ``command:``."""
    if _BARE.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_args(args: Sequence[str]) -> str:
    """The LLAMA_ARGS value for an argument list (see module docstring).

    Raises:
        EnvValueError: an argument holds a character .env cannot carry.
    """
    for arg in args:
        check_value("LLAMA_ARGS", arg)
    return " ".join(quote_arg(a) for a in args)


def render_block(values: Mapping[str, str]) -> str:
    """The managed block's text, one ``NAME='value'`` per line.

    Raises:
        EnvValueError: a bad name or value.
    """
    lines = [BEGIN]
    for name, value in values.items():
        if not _NAME.match(name):
            raise EnvValueError(f"not a valid variable name: {name!r}")
        check_value(name, value)
        lines.append(f"{name}='{value}'")
    lines.append(END)
    return "\n".join(lines) + "\n"


def line_ending(text: str) -> str:
    r"""The file's line-ending style: that of its first line break (``"\n"`` when none)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def split_lines(text: str, eol: str) -> list[str]:
    r"""``text``'s lines, each with its own ending kept (an unterminated last one gets ``eol``).

    split("\n"), not splitlines(): a user line may hold \x0c, \x85, \u2028 and the like.
    """
    parts = text.split("\n")
    last = parts.pop()
    return [f"{part}\n" for part in parts] + ([last + eol] if last else [])


# A marker with no partner (a hand edit, a merge) is commented out with this note, so the lines
# after it stay the user's and it never pairs with a later marker to swallow them.
UNPAIRED = "# llamadash: this marker had no partner, so the lines around it were kept: "


def _blocks(lines: Sequence[str]) -> tuple[list[range], set[int]]:
    """The managed blocks (BEGIN up to the next marker, when that is END) and unpaired markers.

    A BEGIN followed by another BEGIN or by the end of the file starts no block: the lines after
    it were (or became) the user's, and only a complete block may be replaced.
    """
    markers = [i for i, line in enumerate(lines) if line.startswith((BEGIN, END))]
    blocks: list[range] = []
    unpaired: set[int] = set()
    for position, index in enumerate(markers):
        if blocks and index == blocks[-1].stop - 1:
            continue  # the END of the block just found
        following = markers[position + 1] if position + 1 < len(markers) else None
        if (
            lines[index].startswith(BEGIN)
            and following is not None
            and lines[following].startswith(END)
        ):
            blocks.append(range(index, following + 1))
        else:
            unpaired.add(index)
    return blocks, unpaired


def merge(existing: str, block: str) -> str:
    """Replace the managed block in ``existing`` (or append it), keeping every other line.

    ``existing`` is the file's raw text (no newline translation): user lines keep their own
    line endings byte for byte, and the block is written in the file's style (see
    :func:`line_ending`), so a CRLF file stays CRLF. A user line that sets a variable the
    block sets would silently win or lose depending on order, so it is commented out with a
    note instead of being deleted; so is a marker without its partner (see :func:`_blocks`).
    The first complete block is replaced in place; any later one is llamadash's too and goes.
    """
    eol = line_ending(existing)
    managed = {line.split("=", 1)[0] for line in block.splitlines()[1:-1]}
    block = block.replace("\n", eol)  # values never hold a newline (check_value)
    raws = split_lines(existing, eol)
    lines = [raw.removesuffix("\n").removesuffix("\r") for raw in raws]
    blocks, unpaired = _blocks(lines)
    inside = {i for span in blocks for i in span}
    kept: list[str] = []
    for index, (raw, line) in enumerate(zip(raws, lines, strict=True)):
        if blocks and index == blocks[0].start:
            kept.append(block)
        if index in inside:
            continue
        name = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if index in unpaired:
            kept.append(UNPAIRED + raw)
        elif "=" in line and not line.lstrip().startswith("#") and name in managed:
            kept.append(f"# overridden by llamadash (set it in models.conf): {raw}")
        else:
            kept.append(raw)
    if blocks:
        return "".join(kept)
    while kept and kept[-1] in ("\n", "\r\n"):  # trailing blank lines: one blank line only
        kept.pop()
    return "".join(kept) + eol + block if kept else block


def write_env(path: Path, values: Mapping[str, str]) -> bool:
    """Atomically write ``values`` as the managed block of ``path``; back up to ``.env.prev``.

    Returns:
        True when the file changed.

    Raises:
        EnvValueError: a value .env cannot carry (nothing is written).
    """
    block = render_block(values)
    try:
        # newline="": read CRLF as CRLF, so merge() can keep the file's line endings.
        with path.open(encoding="utf-8", newline="") as handle:
            existing = handle.read()
    except FileNotFoundError:
        existing = ""
    text = merge(existing, block)
    if text == existing:
        return False
    if existing:
        # The backup gets the mode of the file it copies (a 0600 .env must not leak via .prev).
        mode = path.stat().st_mode & 0o777
        atomic_write(path.with_name(path.name + ".prev"), existing, mode)
    atomic_write(path, text)
    return True


def read_block(path: Path) -> dict[str, str]:
    """The variables of the managed block of ``path`` (empty when there is none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    blocks, _ = _blocks(lines)
    values: dict[str, str] = {}
    for line in (lines[i] for i in blocks[0][1:-1]) if blocks else ():
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value[1:-1] if value.startswith("'") else value
    return values


def atomic_write(path: Path, text: str, mode: int | None = None) -> None:
    """Temp file in the same folder + fsync + rename, keeping the old file's mode."""
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # newline="": write the text's own line endings, never translated.
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
