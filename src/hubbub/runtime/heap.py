"""The runtime process's heap: what it built at start-up is kept out of the garbage collector.

``hubbub serve`` starts by reading the template, building every gateway, pool and poller and
loading botocore's service models: some 110,000 objects that live as long as the process.
CPython's full (generation 2) collection walks all of them, and it runs on the event loop that
carries every connection: 170-350 ms per collection on the machine of docs/benchmarks.md, which
a fan-out in flight waits out. Freezing them once start-up is over (``gc.freeze``) moves them to
the permanent generation, so a full collection only walks what came after: under a millisecond
at start. Nothing is freed by it or kept alive that was not already; the Lambda workers, whose
heaps are the handlers' own, are left as Lambda leaves them.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> int:
    """Collect what start-up left as garbage, then freeze the rest; how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
