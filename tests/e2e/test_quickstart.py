"""The README's quickstart from a fresh clone: ``make run`` installs and serves the web client.

(``make test`` from a fresh clone is what CI runs, in a fresh clone, every time.)
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT_FACTOR
from tests.support.server import REPO


@pytest.mark.slow
def test_make_run_serves_the_web_client_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "hubbub"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    # a user's shell: no venv, and no outer make's flags (under `make test` they would hand
    # `make run` its -j and --output-sync, which holds every line back until the target ends)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "MAKE", "MFLAGS"))
    }
    proc = subprocess.Popen(
        ["make", "run", "PORT=0", "MQTT_PORT=0"],
        cwd=clone,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600 * TIMEOUT_FACTOR
        base = None
        seen: list[str] = []
        while base is None:
            assert time.monotonic() < deadline, "make run never became ready:\n" + "".join(seen)
            assert proc.poll() is None, "make run exited:\n" + "".join(seen[-30:])
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            if line.startswith("hubbub: ready "):
                base = line.split("ready ", 1)[1].strip()
        with urllib.request.urlopen(f"{base}/", timeout=10) as response:
            page = response.read().decode()
        assert response.status == 200
        assert "hubbub" in page.lower()
        assert (clone / ".venv" / "bin" / "hubbub").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(timeout=5)
        proc.stdout.close()
