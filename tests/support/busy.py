"""Keep a real llama-server generating, and know (from /slots) that it is."""

from __future__ import annotations

import threading
import time

import httpx


def generate_until_busy(endpoint: str, timeout: float = 15.0) -> threading.Thread:
    """Start a long /completion in a thread; return once /slots shows a slot processing.

    Raises:
        AssertionError: no slot was processing within ``timeout`` seconds.
    """

    def generate() -> None:
        try:
            httpx.post(
                f"{endpoint}/completion",
                json={"prompt": "Once upon a time", "n_predict": 4000},
                timeout=60,
            )
        except httpx.HTTPError:
            pass  # the server goes away mid-request: expected

    worker = threading.Thread(target=generate, daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            slots = httpx.get(f"{endpoint}/slots", timeout=1).json()
        except (httpx.HTTPError, ValueError):
            slots = []
        if any(slot.get("is_processing") for slot in slots):
            return worker
        time.sleep(0.02)
    raise AssertionError(f"no slot of {endpoint} was processing after {timeout}s")
