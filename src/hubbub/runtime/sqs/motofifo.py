"""moto's SQS FIFO queues kept in order after a visibility timeout.

SQS hands a FIFO message group to one consumer at a time: while a message of the group is in
flight, none of the group's later messages is received, and once its visibility timeout ends it
comes back first ("Amazon SQS FIFO queues": "messages ... are received in the order they are
sent" within a message group). moto 5.2 keeps received messages in a ``pending`` set, and its
receive loop drops one from that set only when it reaches it in the queue, recomputing the
pending groups as it goes: with two messages of a group in flight (a batch that failed whole),
the first one, visible again, is skipped because the second still counts as pending, so the
group comes back second message first. ``fifo_in_order`` drops every message whose visibility
timeout has ended from ``pending`` before moto's loop runs, so the groups in flight are exactly
those SQS would hold back. A function's batch that failed (``batchItemFailures`` of a FIFO
consumer, which fails the rest of a group with its first failure) then comes back in order.

Applied by the runtime's embedded moto (``dynamodb.motoserver``) and by its tests; it relies on
moto 5.2's ``Queue.pending_messages`` and ``Message.visible``, pinned in constraints.txt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["fifo_in_order"]

_PATCHED = "_hubbub_fifo_in_order"


@contextmanager
def fifo_in_order() -> Iterator[None]:
    """Patch moto's ``SQSBackend.receive_message`` for the duration; nested uses do nothing."""
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    if getattr(original, _PATCHED, False):
        yield
        return

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            pending = queue.pending_messages
            for message in [m for m in pending if m.visible]:
                pending.discard(message)
        return original(self, queue_name, *args, **kwargs)

    setattr(receive_message, _PATCHED, True)
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    try:
        yield
    finally:
        SQSBackend.receive_message = original  # type: ignore[method-assign]
