"""A DynamoDB endpoint that outlives the servers under test, as a table outlives its Lambdas.

``hubbub serve --store dynamodb`` alone embeds moto in a child of the runtime, so a ``kill -9`` of
the runtime takes the tables with it: nothing like AWS, where the table does not care what
happens to the compute. The end-to-end suite on DynamoDB therefore runs every server against
this endpoint (``--dynamodb-endpoint``), each under a stack name of its own, so restarts and
crashes keep their data. It is the runtime's own moto process (``runtime.dynamodb.motoserver``:
one request at a time, cheap rollbacks), started on 127.0.0.1 with a port the OS picks.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

from tests.conftest import TIMEOUT_FACTOR


@contextmanager
def threaded_moto() -> Iterator[str]:
    """moto's server in a thread of the test's process, on a free port: its URL. For tests that
    need a real endpoint (requests through botocore) but no process of its own."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class MotoEndpoint:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> MotoEndpoint:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hubbub.runtime.dynamodb.motoserver", "127.0.0.1"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        # one line, written once the server takes requests; the process exits if it cannot start
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(timeout=timeout * TIMEOUT_FACTOR)
            raise RuntimeError(f"moto did not start (exit code {code})")
        self.url = f"http://127.0.0.1:{json.loads(line)['port']}"
        return self

    @contextmanager
    def stalled(self) -> Iterator[None]:
        """The endpoint stops answering (SIGSTOP) until the block ends: requests queue, unread."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()  # the server's cue to exit
        try:
            self.proc.wait(timeout=10 * TIMEOUT_FACTOR)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
