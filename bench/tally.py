"""Loss, duplicate and order accounting for every delivery (standard library only).

Each published message carries ``~{epoch}.{publisher}.{n}.{t_ns}.`` at the start of its text:
``n`` counts 1, 2, 3... per publisher and ``t_ns`` is the time the open-loop schedule meant to send
it (``time.monotonic_ns()``, one clock for every process of the machine). A subscriber keeps, per
(epoch, publisher), the next ``n`` it expects and the gaps it has seen, so that each arrival is
classified in O(1): in order, a gap filled late (out of order), or a duplicate. What never arrived
is known once the publisher says how many it sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["MARK", "Stream", "Tally", "make_text", "parse_text"]

MARK = b'"text":"~'
"""Where the payload starts inside any peer's message frame (JSON of ours or the server's)."""


def make_text(epoch: int, publisher: int, n: int, t_ns: int, size: int) -> str:
    head = f"~{epoch}.{publisher}.{n}.{t_ns}."
    return head + "x" * max(0, size - len(head))


def parse_text(text: bytes) -> tuple[int, int, int, int]:
    """(epoch, publisher, n, t_ns) of a payload made by :func:`make_text` (leading ``~`` off)."""
    epoch, publisher, n, t_ns, _ = text.split(b".", 4)
    return int(epoch), int(publisher), int(n), int(t_ns)


@dataclass(slots=True)
class Stream:
    """One publisher's messages as one subscriber sees them."""

    next: int = 1
    missing: set[int] = field(default_factory=set)
    unique: int = 0
    duplicates: int = 0
    reordered: int = 0

    def see(self, n: int) -> str:
        if n == self.next:
            self.next += 1
            self.unique += 1
            return "ok"
        if n > self.next:
            self.missing.update(range(self.next, n))
            self.next = n + 1
            self.unique += 1
            return "gap"
        if n in self.missing:
            self.missing.discard(n)
            self.unique += 1
            self.reordered += 1
            return "late"
        self.duplicates += 1
        return "dup"

    def lost(self, published: int) -> int:
        """Messages 1..published that never arrived."""
        upto = min(self.next - 1, published)
        holes = sum(1 for m in self.missing if m <= published)
        return published - (upto - holes)


@dataclass(slots=True)
class Tally:
    """Totals over many subscribers and publishers for one epoch (one measured step)."""

    received: int = 0
    unique: int = 0
    duplicates: int = 0
    reordered: int = 0
    lost: int = 0
    expected: int = 0
    subscribers: int = 0
    incomplete_subscribers: int = 0

    def add_subscriber(self, streams: dict[int, Stream], published: dict[int, int]) -> None:
        """Fold one subscriber's streams in, given how many each publisher sent."""
        self.subscribers += 1
        lost_here = 0
        for publisher, count in published.items():
            stream = streams.get(publisher)
            self.expected += count
            if stream is None:
                lost_here += count
                continue
            lost_here += stream.lost(count)
        for stream in streams.values():
            self.unique += stream.unique
            self.duplicates += stream.duplicates
            self.reordered += stream.reordered
            self.received += stream.unique + stream.duplicates
        self.lost += lost_here
        if lost_here:
            self.incomplete_subscribers += 1

    def merge(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
