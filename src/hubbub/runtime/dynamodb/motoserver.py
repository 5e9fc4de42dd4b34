"""The embedded DynamoDB of ``hubbub serve --store dynamodb``: moto's server in a process of its
own.

Started by the runtime as ``python -m hubbub.runtime.dynamodb.motoserver HOST``. It listens on
``HOST`` with
a port the system picks, prints ``{"port": N}`` on stdout once it takes requests, and exits when its
stdin closes, which happens when the runtime stops or dies: it never outlives the runtime.

Four things are added around moto, all for a server that runs for hours rather than one test:

- DynamoDB requests are handled one at a time. moto's DynamoDB is not thread-safe (a cancelled
  transaction is rolled back by restoring a copy of the whole table, which can undo a write
  another thread made meanwhile); DynamoDB itself serialises conflicting writes, and so does this.
  The other services the same server answers (SQS and SNS, for the template's queues and topics)
  are not held by it: an SQS long poll waits for a message another request sends.
- moto keeps every shard iterator it ever handed out; a stream poller asks for a new one several
  times a second, so only the most recent ones are kept (on AWS an iterator expires after 15
  minutes anyway).
- a cancelled transaction restores the items it named, not a deep copy of the whole table taken
  per item of every transaction (``dynamodb.motofast``): without it a send costs seconds once the
  table holds a few thousand items.
- moto's registry of every model instance it ever made (read only by its dashboard, which this
  server does not serve) is emptied with the iterator prune.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from hubbub.runtime.dynamodb.motofast import faster_moto, forget_tracked_models
from hubbub.runtime.sqs.motofifo import fifo_in_order

__all__ = ["main"]

KEEP_ITERATORS = 2000
_PRUNE_EVERY = 200


class _OneAtATime:
    """WSGI middleware: one DynamoDB request at a time, and a periodic prune of moto's shard
    iterators."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._served = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
            return list(self._app(environ, start_response))
        with self._lock:
            body = list(self._app(environ, start_response))
            self._served += 1
            if self._served % _PRUNE_EVERY == 0:
                _prune_shard_iterators()
                forget_tracked_models()
            return body


def _prune_shard_iterators() -> None:
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends
    except ImportError:  # pragma: no cover - a moto without streams
        return
    for account in list(dynamodbstreams_backends.values()):
        for backend in list(account.values()):
            iterators: dict[str, Any] = backend.shard_iterators
            excess = len(iterators) - KEEP_ITERATORS
            if excess > 0:
                for key in list(iterators)[:excess]:
                    iterators.pop(key, None)


def main() -> None:
    # Ctrl-C is the runtime's to handle: it still needs the tables while it drains connections.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
    with faster_moto(), fifo_in_order():
        server = make_server(host, 0, app, threaded=True, request_handler=MotoRequestHandler)
        thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
        thread.start()
        sys.stdout.write(json.dumps({"port": server.server_port}) + "\n")
        sys.stdout.flush()
        while sys.stdin.buffer.read(4096):
            pass  # nothing is ever sent; EOF means the runtime is gone
        server.shutdown()


if __name__ == "__main__":
    main()
