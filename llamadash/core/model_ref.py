"""A model on the Hub as people write it: ``user/repo[:quant]``, ``hf.co/…``, or its URL.

In the core because a profile may name its source (``hf = user/repo:QUANT``) and models.conf
is checked when it loads; the Hub itself is reached only from llamadash/hub/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REF = re.compile(r"^(?P<user>[\w.-]+)/(?P<repo>[\w.-]+?)(?::(?P<quant>[\w.-]+))?$")
_HOST_PREFIXES = ("https://", "http://", "hf.co/", "huggingface.co/")


class BadReferenceError(ValueError):
    """A model reference that is not ``user/repo[:quant]``."""


@dataclass(frozen=True)
class ModelRef:
    """``user/repo`` and an optional quant, as typed on the command line."""

    repo: str
    quant: str | None = None

    def __str__(self) -> str:
        return f"{self.repo}:{self.quant}" if self.quant else self.repo


def parse_ref(text: str) -> ModelRef:
    """``user/repo``, ``user/repo:Q4_K_M``, ``hf.co/user/repo:quant`` or a Hub URL.

    Raises:
        BadReferenceError: anything else (the message shows the accepted spellings).
    """
    rest = text.strip()
    for prefix in _HOST_PREFIXES:
        if rest.lower().startswith(prefix):
            rest = rest[len(prefix) :]
            rest = rest.split("/", 1)[1] if prefix.startswith("http") and "/" in rest else rest
            break
    match = _REF.match(rest.rstrip("/"))
    if match is None:
        raise BadReferenceError(
            f"not a model reference: {text!r} (want user/repo or user/repo:QUANT,"
            " e.g. unsloth/gemma-3-270m-it-GGUF:Q4_K_M)"
        )
    return ModelRef(f"{match['user']}/{match['repo']}", match["quant"])
