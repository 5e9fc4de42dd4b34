"""A real ``hubbub serve`` in a subprocess, on 127.0.0.1 with port 0, for end-to-end tests."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import TIMEOUT_FACTOR

REPO = Path(__file__).resolve().parents[2]


def serve_to_exit(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``hubbub serve`` expected to refuse to start: its exit code and what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "hubbub.cli", "serve", "--port", "0", "--mqtt-port", "0", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60 * TIMEOUT_FACTOR,
        check=False,
    )


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        *args: str,
        template: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.template = template or REPO / "template.yaml"
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.mqtt_port = 0
        """IoT Core's MQTT over TCP (``--mqtt-port``); kept across a restart, like ``port``."""
        self.announced: list[str] = []
        """The ``hubbub:`` lines printed before ``ready``."""
        self.lines: queue.Queue[str] = queue.Queue()
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self._pump_thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def mqtt_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/mqtt"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "hubbub.cli",
            "serve",
            "--port",
            str(self.port),
            "--mqtt-port",
            str(self.mqtt_port),
            "--data-dir",
            str(self.data_dir),
            "--template",
            str(self.template),
            "--log-level",
            "INFO",
            *self.args,
        ]
        self._log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, **self.env},
            cwd=REPO,
        )
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        deadline = time.monotonic() + timeout * TIMEOUT_FACTOR
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"server did not become ready; see {self.log_path}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            self.announced.append(line)
            if line.startswith("hubbub: mqtt-tcp "):
                self.mqtt_port = int(line.rsplit(":", 1)[1])
            if line.startswith("hubbub: ready "):
                self.port = int(line.rsplit(":", 1)[1])
                return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    @property
    def runtime_key(self) -> str:
        return (self.data_dir / "runtime-key").read_text()

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/_runtime/{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"X-Hubbub-Runtime-Key": self.runtime_key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout * TIMEOUT_FACTOR)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._release()
        return code

    def _release(self) -> None:
        assert self.proc is not None
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._release()
        # its Lambda workers read EOF on their stdin and exit on their own

    def restart(self) -> ServerProcess:
        port = self.port
        self.stop()
        self.port = port
        return self.start()
