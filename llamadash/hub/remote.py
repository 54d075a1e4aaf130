"""The Hub's metadata through its own client: the file tree with sha256, search, the card.

``huggingface_hub`` supplies the endpoint (``HF_ENDPOINT``), the token (``HF_TOKEN`` or the
token file ``hf auth login`` writes) and the API calls; every failure it raises becomes a
:class:`HubError` with one line that says what to do, never a traceback.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from llamadash.hub.quants import RemoteFile
from llamadash.hub.transport import TransportError, describe, fetch_small

REACH_TIMEOUT = 5.0
CARD_LINES = 8


class HubError(Exception):
    """A Hub problem, said in one actionable line."""


@dataclass(frozen=True)
class Hub:
    """Where the Hub is and who we are there."""

    endpoint: str
    token: str | None

    @property
    def headers(self) -> dict[str, str]:
        """The request headers of every call (the token, when there is one)."""
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def file_url(self, repo: str, path: str, revision: str = "main") -> str:
        """Where a file of ``repo`` is downloaded from."""
        return f"{self.endpoint}/{repo}/resolve/{revision}/{path}"

    def page(self, repo: str) -> str:
        """The repo's page (where a gated model's licence is accepted)."""
        return f"{self.endpoint}/{repo}"


@dataclass(frozen=True)
class SearchHit:
    """One repo found by a search."""

    repo: str
    downloads: int
    likes: int
    modified: str
    gguf_files: int


def connect() -> Hub:
    """The Hub of this environment (``HF_ENDPOINT``, ``HF_TOKEN`` or the token file)."""
    from huggingface_hub import constants, get_token
    from huggingface_hub.utils import logging as hub_logging

    # Its retry notices ("Retrying in 8s…") are not for our users; our errors say it all.
    hub_logging.set_verbosity(logging.ERROR)
    # HF_ENDPOINT read now, not when the client was imported: a process may change it.
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    return Hub(endpoint.rstrip("/"), get_token())


def check_reachable(hub: Hub) -> None:
    """Fail at once when the Hub cannot be reached (its client would retry for ~25 s).

    Raises:
        HubError: no connection (any HTTP answer counts as reachable).
    """
    try:
        fetch_small(hub.endpoint, {}, method="HEAD", timeout=REACH_TIMEOUT)
    except TransportError as exc:
        raise HubError(
            f"cannot reach {hub.endpoint} ({describe(exc)}): check the network"
            " (or HF_ENDPOINT for a mirror)"
        ) from None


def repo_files(hub: Hub, repo: str) -> list[RemoteFile]:
    """Every file of ``repo`` (recursively) with its size and LFS sha256.

    Raises:
        HubError: no such repo, no access, or the Hub cannot be reached.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    check_reachable(hub)
    api = HfApi(endpoint=hub.endpoint, token=hub.token or False)
    try:
        entries = list(api.list_repo_tree(repo, recursive=True))
    except Exception as exc:
        raise translate(exc, hub, repo) from None
    return [
        RemoteFile(e.path, e.size, e.lfs.sha256 if e.lfs else None)
        for e in entries
        if isinstance(e, RepoFile)
    ]


def search(hub: Hub, words: str, limit: int) -> list[SearchHit]:
    """Repos matching ``words`` that really hold ``.gguf`` files, most downloaded first.

    The Hub's ``gguf`` filter also returns repos that only mention GGUF: each hit's file list
    (``siblings``) is checked here.
    """
    from huggingface_hub import HfApi

    check_reachable(hub)
    api = HfApi(endpoint=hub.endpoint, token=hub.token or False)
    try:
        found = api.list_models(
            search=words,
            filter="gguf",
            sort="downloads",
            limit=limit,
            expand=["downloads", "likes", "lastModified", "siblings"],
        )
        hits = [_hit(model) for model in found]
    except Exception as exc:
        from huggingface_hub import errors

        if isinstance(exc, errors.HfHubHTTPError):
            # A refusal of the search itself (no repo is named): a mirror without search.
            raise HubError(
                f"{hub.endpoint} did not answer the search ({_first_line(exc)}); a mirror may"
                " not offer search: try info USER/REPO"
            ) from None
        raise translate(exc, hub, words) from None
    return [hit for hit in hits if hit.gguf_files]


def card_excerpt(hub: Hub, repo: str) -> str:
    """The first lines of the model card's text ('' when it has none or it cannot be read)."""
    try:
        status, body = fetch_small(hub.file_url(repo, "README.md"), hub.headers)
    except TransportError:
        return ""
    if status != 200:
        return ""
    text = body.decode("utf-8", "replace")
    if text.startswith("---"):  # YAML front matter: metadata, not prose
        end = text.find("\n---", 3)
        text = text[end + 4 :] if end >= 0 else ""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:CARD_LINES])


def translate(exc: BaseException, hub: Hub, repo: str) -> HubError:
    """The Hub client's error as one line that says what to do."""
    from huggingface_hub import errors

    if isinstance(exc, errors.GatedRepoError):
        return gated(hub, repo)
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubError(
            f"no model {repo} on {hub.endpoint}: check the name"
            " (a private repo needs HF_TOKEN or `hf auth login`)"
        )
    if isinstance(exc, errors.RevisionNotFoundError | errors.EntryNotFoundError):
        return HubError(f"{repo}: not found on {hub.endpoint} ({_first_line(exc)})")
    if isinstance(exc, errors.HfHubHTTPError):
        return HubError(f"{repo}: the Hub answered an error ({_first_line(exc)})")
    if _is_transport_error(exc):
        return HubError(f"cannot reach {hub.endpoint} ({_first_line(exc)}): check the network")
    return HubError(f"{repo}: {type(exc).__name__}: {_first_line(exc)}")


def gated(hub: Hub, repo: str) -> HubError:
    """The error for a repo whose licence must be accepted first."""
    how = (
        "your token has no access yet"
        if hub.token
        else "then set HF_TOKEN (or run `hf auth login`)"
    )
    return HubError(
        f"{repo} is gated: accept its licence at {hub.page(repo)} while logged in, {how}"
    )


def _hit(model: Any) -> SearchHit:
    siblings = model.siblings or []
    modified = model.last_modified.date().isoformat() if model.last_modified else ""
    return SearchHit(
        repo=model.id,
        downloads=model.downloads or 0,
        likes=model.likes or 0,
        modified=modified,
        gguf_files=sum(1 for s in siblings if s.rfilename.lower().endswith(".gguf")),
    )


def _is_transport_error(exc: BaseException) -> bool:
    # The Hub client uses its own HTTP package (httpx2 today, httpx before): match by name,
    # so a change of its transport does not turn "network down" into a traceback.
    # (Its HTTP errors are OSErrors too: only connection-level ones count here.)
    return isinstance(exc, ConnectionError | TimeoutError | socket.gaierror) or any(
        cls.__name__ == "TransportError" for cls in type(exc).__mro__
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
