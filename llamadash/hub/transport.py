"""Our own HTTP to the Hub: urllib3, proxies from the environment, no hidden retries.

The byte stream of a download, and the few small requests the Hub client does not make for
us (is the Hub reachable, the model card).

urllib3 rather than httpx for this one path: reading a 253 MB GGUF from a loopback server,
httpx took 0.73-0.80 s and urllib3's ``readinto`` 0.43-0.46 s (curl: 0.31 s), because httpx
parses every 64 KiB through h11 in Python (bench/bench_pull.py measures the whole pull).
urllib3 drops the Authorization header on a redirect to another host (the Hub redirects file
downloads to its CDN), as httpx does.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import urllib3

CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0
# Redirects followed; nothing retried behind the user's back (a failure says "run again",
# and the next run resumes where this one stopped).
RETRIES = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5)
SMALL_BODY = 256 * 1024  # enough of a model card for its first lines
TransportError = urllib3.exceptions.HTTPError
Response = urllib3.BaseHTTPResponse


def open_stream(url: str, headers: dict[str, str]) -> Response:
    """Start a GET of ``url``; the caller reads the body (``readinto``) and releases it.

    Raises:
        TransportError: no connection, a timeout, too many redirects.
    """
    return _pool_for(url).request(
        "GET",
        url,
        headers=headers,
        preload_content=False,
        decode_content=False,
        retries=RETRIES,
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
    )


def fetch_small(
    url: str, headers: dict[str, str], *, method: str = "GET", timeout: float = 10.0
) -> tuple[int, bytes]:
    """One short request: its status and the first SMALL_BODY bytes of its body.

    Raises:
        TransportError: no connection, a timeout, too many redirects.
    """
    answer = _pool_for(url).request(
        method,
        url,
        headers=headers,
        preload_content=False,
        retries=RETRIES,
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
    )
    try:
        body = bytes(answer.read(SMALL_BODY)) if method != "HEAD" else b""
    finally:
        answer.release_conn()
    return answer.status, body


def describe(exc: BaseException) -> str:
    """The innermost reason of a transport error, in one line."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason).strip() or type(reason).__name__
    return text.splitlines()[0]


def _pool_for(url: str) -> urllib3.PoolManager:
    """A proxy from ``https_proxy``/``http_proxy`` unless ``no_proxy`` exempts the host."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy)
    return urllib3.PoolManager()
