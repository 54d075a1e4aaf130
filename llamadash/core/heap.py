"""Keep the cyclic garbage collector off the startup objects of a long-running process.

A full (generation 2) collection walks every tracked object: the modules, classes and widgets
made at startup that live until exit. In the side API under load that was a 34 ms pause on
average, 65 ms at worst, several times a minute (bench/bench_api_status.py, gc.callbacks):
the p99 of GET /status. ``gc.freeze()`` moves what exists now to a permanent generation that
collections skip; objects made later are collected as usual.
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle() -> None:
    """Collect once, then exempt every surviving object from future collections.

    Call it when startup is done (the dashboard is drawn, the API listens).
    """
    gc.collect()
    gc.freeze()
