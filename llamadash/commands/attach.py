"""``llamadash attach [URL]``: the dashboard of a llamadash that runs elsewhere (or here).

Also what plain ``llamadash`` does when another llamadash already owns the servers: it
attaches to the API its lock names instead of refusing.
"""

from __future__ import annotations

import argparse
import sys

from llamadash.commands.owner import read_config_lenient

DEFAULT_SCHEME = "http://"
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}


def attach(args: argparse.Namespace) -> int:
    """Attach to ``args.url`` (default: the owner's API from its lock, else api_port here)."""
    from llamadash.commands.owner import find_owner

    _, settings, _ = read_config_lenient(args)
    url = args.url
    if not url:
        owner = find_owner(settings)
        url = owner.api if owner is not None and owner.api else ""
        if not url:
            url = f"http://127.0.0.1:{settings.api_port}"
    token = args.token or settings.api_token  # settings read LLAMADASH_API_TOKEN too
    return run_attached(url, token)


def api_url(text: str) -> str:
    """``host:port`` or ``http(s)://host:port[/]`` as a base URL.

    Raises:
        ValueError: not a URL with a host and a port.
    """
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = DEFAULT_SCHEME + url
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("http", "https") or not host or not port.isdigit() or "/" in rest:
        raise ValueError(f"want the API's address as http://HOST:PORT, got {text!r}")
    if host.strip("[]") in WILDCARDS:  # an owner bound to every interface: reach it here
        return f"{scheme}://{WILDCARDS[host.strip('[]')]}:{port}"
    return url


def run_attached(url: str, token: str) -> int:
    """Run the attached dashboard until the user quits; its exit code."""
    try:
        base = api_url(url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from llamadash.remote.client import OwnerApi
    from llamadash.ui.attached import AttachedDash

    app = AttachedDash(OwnerApi(base, token))
    app.run()
    if app.failure:
        print(app.failure, file=sys.stderr)
        return 2
    if app.quit_message:
        print(app.quit_message)
    return app.return_code or 0
