"""Max Memory Used: the worker reads its own high-water mark, and reads it anew each time (the
descriptor is kept open; a ``pread`` at offset 0 has the kernel write the file again)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json
from hubbub.runtime.lambda_.worker import _max_rss_mb
before = _max_rss_mb()
ballast = bytearray(96 * 1024 * 1024)
ballast[::4096] = b"\\x01" * len(range(0, len(ballast), 4096))
after = _max_rss_mb()
print(json.dumps([before, after]))
"""


def test_the_high_water_mark_follows_the_processs_own_use() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    before, after = json.loads(out.stdout)
    assert 0 < before < 96, "the process's own peak, not its parent's"
    assert after >= before + 90, "a second read sees the 96 MB touched since the first"
