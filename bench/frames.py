"""The fan-out's WebSocket text frame built by hand against websockets' sans-I/O serialiser.

    python -m bench.frames

The gateway builds one unmasked text frame per ``@connections`` batch
(``hubbub.runtime.apigateway.websocket.frames.text_frame``). This times that and
``websockets.frames.Frame(Opcode.TEXT, payload).serialize(mask=False)`` on the same payloads, the
sizes a fan-out pushes (a presence event, a chat message, a page of history, a post at the 128 KB
quota: each of the three length forms), after checking both give the same bytes. Bounded: a fixed
number of calls per round, best of a few rounds, a second or two in all.
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable

from websockets.frames import Frame, Opcode

from hubbub.runtime.apigateway.websocket.frames import text_frame

__all__ = ["PAYLOADS", "main", "measure"]

CALLS = 20_000
ROUNDS = 5


def _message(text: str) -> bytes:
    event = {
        "type": "message",
        "topic": "room/lobby",
        "seq": 123456,
        "sender": "u-0123456789abcdef",
        "text": text,
        "clientMsgId": "c-0123456789abcdef",
        "sentAt": "2026-12-06T07:15:03.123Z",
    }
    return json.dumps(event, separators=(",", ":")).encode()


PAYLOADS = {
    "presence": json.dumps({"type": "presence", "topic": "room/lobby", "online": 3}).encode(),
    "message": _message("hello, everyone " * 8),
    "history page": _message("x" * 4000),
    "128 KB post": _message("y" * (128 * 1024 - 300)),
}


def _websockets(payload: bytes) -> bytes:
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def _ns_per_call(fn: Callable[[bytes], bytes], payload: bytes) -> float:
    best = min(timeit.repeat(lambda: fn(payload), number=CALLS, repeat=ROUNDS))
    return best / CALLS * 1e9


def measure() -> dict[str, tuple[int, float, float]]:
    """Per payload: (size, ns per frame by hand, ns per frame by websockets)."""
    results = {}
    for name, payload in PAYLOADS.items():
        if text_frame(payload) != _websockets(payload):
            raise AssertionError(f"{name}: the two frames differ")
        hand = _ns_per_call(text_frame, payload)
        theirs = _ns_per_call(_websockets, payload)
        results[name] = (len(payload), hand, theirs)
    return results


def main() -> int:
    print(f"{'payload':<14}{'bytes':>8}{'by hand ns':>12}{'websockets ns':>15}{'ratio':>8}")
    for name, (size, hand, theirs) in measure().items():
        print(f"{name:<14}{size:>8}{hand:>12.0f}{theirs:>15.0f}{theirs / hand:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
