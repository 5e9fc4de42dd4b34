"""A stand-in for IoT Core's data plane in the adapters' unit tests: a threaded HTTP server on
127.0.0.1 that checks each request's SigV4 signature as the runtime does (``iotdata``) and
answers errors as IoT Core does (a JSON ``message`` and ``x-amzn-ErrorType``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hubbub.runtime.sigv4 import SignatureRejected, SigV4Verifier

__all__ = ["DataPlaneHandler", "serving"]


class DataPlaneHandler(BaseHTTPRequestHandler):
    """Subclasses set ``verifier`` and add ``do_POST``/``do_DELETE``."""

    protocol_version = "HTTP/1.1"
    verifier: SigV4Verifier

    def signed_body(self) -> bytes | None:
        """The request's body when its signature holds; otherwise 403 is answered and None
        returned."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self.verifier.verify(self.command, self.path, dict(self.headers.items()), body)
        except SignatureRejected as exc:
            self.answer(403, "ForbiddenException", str(exc))
            return None
        return body

    def answer(
        self, status: int, error_type: str | None = None, message: str = "", ok: bytes = b"{}"
    ) -> None:
        payload = json.dumps({"message": message}).encode() if error_type else ok
        self.send_response(status)
        if error_type:
            self.send_header("x-amzn-ErrorType", f"{error_type}:http://internal")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The server's base URL while it runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
