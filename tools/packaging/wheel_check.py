"""Check the wheel a user installs: built from this repository, installed into a fresh venv,
``hubbub --version`` answers and ``hubbub serve`` runs from an empty directory (so hubbub's own
template must come from the package, not from a checkout), up to ``GET /api/health``.

    .venv/bin/python tools/packaging/wheel_check.py [--keep]

Dependencies come from pip's usual sources, pinned by constraints.txt (pip's cache makes this
about a minute).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READY_WITHIN_S = 90.0


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"wheel-check: {' '.join(map(str, command))} failed:\n{done.stderr}")
    return done.stdout


def build_and_install(work: Path) -> tuple[Path, str]:
    """The venv's bin directory, and the version the wheel's file name carries."""
    dist = work / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, REPO)
    (wheel,) = dist.glob("hubbub-*.whl")
    _run(sys.executable, "-m", "venv", work / "venv")
    bin_dir = work / "venv" / "bin"
    _run(
        bin_dir / "python", "-m", "pip", "install", "--quiet", "-c", REPO / "constraints.txt", wheel
    )
    return bin_dir, wheel.name.split("-")[1]


def _clean_env(bin_dir: Path) -> dict[str, str]:
    """Nothing of the calling venv or checkout leaks in."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def serve_and_ask_health(bin_dir: Path, work: Path) -> None:
    empty = work / "empty"
    empty.mkdir()
    proc = subprocess.Popen(
        [
            bin_dir / "hubbub",
            "serve",
            "--port",
            "0",
            "--mqtt-port",
            "0",
            "--data-dir",
            work / "data",
        ],
        cwd=empty,
        env=_clean_env(bin_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        base = _wait_ready(proc, lines, seen)
        if not base.startswith("http://127.0.0.1:"):
            raise SystemExit(f"wheel-check: hubbub serve is ready at {base}, not on 127.0.0.1")
        health = f"{base}/api/health"
        with urllib.request.urlopen(health, timeout=30) as response:  # noqa: S310 (checked above)
            if response.status != 200:
                raise SystemExit(f"wheel-check: /api/health answered {response.status}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if list(empty.iterdir()):
        raise SystemExit(f"wheel-check: hubbub serve wrote into its working directory: {empty}")


def _wait_ready(proc: subprocess.Popen[str], lines: queue.Queue[str], seen: list[str]) -> str:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None and lines.empty():
                break
            continue
        seen.append(line)
        if line.startswith("hubbub: ready "):
            return line.split("ready ", 1)[1].strip()
    raise SystemExit("wheel-check: hubbub serve never became ready:\n" + "".join(seen[-30:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="hubbub-wheel-check-"))
    try:
        bin_dir, version = build_and_install(work)
        said = _run(bin_dir / "hubbub", "--version", cwd=work, env=_clean_env(bin_dir)).strip()
        if said != f"hubbub {version}":
            raise SystemExit(f"wheel-check: hubbub --version said {said!r}, not {version}")
        serve_and_ask_health(bin_dir, work)
    finally:
        if args.keep:
            print(f"wheel-check: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"wheel-check: hubbub {version} wheel serves from an empty directory"
        f" ({time.monotonic() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
