"""Rate limits per user (a guest's registrations: per source address; a room's sends: per topic),
whatever the channel.

Every channel reaches the chat through ``Chat`` (the WebSocket routes, the REST API, and later
the MQTT edge), and the limits are taken there, so a user's five connections and their REST calls
draw on one bucket per action. The buckets live in the store (``RateBuckets``), one small item per
user and action written with a conditional write, so they hold across execution environments;
docs/deploy.md says what that costs per message.

Each environment also remembers, in memory, until when a bucket refused: until then it refuses
again without a store write, so a flood costs one write per refusal window per environment,
not one per frame. That memory can only ever refuse what the shared bucket would refuse too
(its arrival time never moves back), so it never tightens the limit.

One bucket is not per user: ``TOPIC_SEND``, every sender to one topic together. Each send to a
topic conditionally updates the topic's head item (the gapless ``seq``), so a room's write rate
is bounded by one DynamoDB item however many users share it: past that, appends lose races on the
head until the store gives up. The topic bucket refuses a flood first, with the same
``rate_limited`` and ``retryAfter``, so what is refused is never half-stored and what is
acknowledged is stored (docs/deploy.md, "Hot rooms", has the ceiling and why this over a sharded
sequence). It is taken after the sender's own bucket, so one user's refused flood spends none of
the room's allowance.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from enum import StrEnum

from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.buckets import Rate
from hubbub.store.records import TokensRefused
from hubbub.store.roles import RateBuckets

__all__ = ["Limited", "Throttle"]


class Limited(StrEnum):
    """The limited actions; each value prefixes its buckets' keys."""

    SEND = "send"
    TYPING = "typing"
    RENAME = "rename"
    GUEST_REGISTER = "register"
    TOPIC_SEND = "topic"
    """Sends into one topic by everyone: keyed by the topic, not a user."""


class Throttle:
    def __init__(
        self,
        buckets: RateBuckets,
        rates: Mapping[Limited, Rate],
        *,
        max_remembered: int = 10_000,
    ) -> None:
        self._buckets = buckets
        self._rates = dict(rates)
        self._refused_until: OrderedDict[str, int] = OrderedDict()
        self._max_remembered = max_remembered

    def rate(self, action: Limited) -> Rate:
        return self._rates[action]

    def take_topic(self, topic: str, now_ms: int) -> None:
        """One send into ``topic``, whoever sends it: ``rate_limited`` past the room's ceiling."""
        self.take(Limited.TOPIC_SEND, topic, now_ms, _topic_why(topic))

    def take_send(self, sender: str, topic: str, now_ms: int, why: str) -> None:
        """A send: the sender's bucket, then the topic's (``take`` then ``take_topic``, the same
        decisions), in one store call, so SQLite commits once for both."""
        self.take_each(_send_specs(sender, topic, why), now_ms)

    def send_takes(
        self, sender: str, topic: str, now_ms: int, why: str
    ) -> tuple[tuple[str, Rate], ...]:
        """``take_send``'s takes, for the store to make with the append itself
        (``AppendRequest.takes``: on SQLite the buckets and the message then cost one commit,
        not two); ``send_refused`` turns the store's refusal into ``take_send``'s error. A
        bucket this environment knows to be empty is taken here instead, as ``take_send``
        takes it: the error at once, and no store write for it."""
        specs = _send_specs(sender, topic, why)
        now_us = now_ms * 1000
        buckets = [f"{action.value}#{who}" for action, who, _ in specs]
        if any(now_us < self._refused_until.get(bucket, 0) for bucket in buckets):
            self.take_each(specs, now_ms)
            raise AssertionError("take_each let a remembered refusal through")
        for bucket in buckets:
            self._refused_until.pop(bucket, None)  # a refusal past its time: forgotten
        return tuple(
            (bucket, self._rates[action])
            for bucket, (action, _, _) in zip(buckets, specs, strict=True)
        )

    def send_refused(
        self, sender: str, topic: str, now_ms: int, why: str, refused: TokensRefused
    ) -> ProtocolError:
        """The error ``take_send`` raises when the store refused ``send_takes``' take number
        ``refused.taken``; remembered, as ``take_send`` remembers it."""
        action, who, reason = _send_specs(sender, topic, why)[refused.taken]
        self._remember(f"{action.value}#{who}", now_ms * 1000 + refused.wait_us)
        return _limited(reason, refused.wait_us)

    def take_each(self, takes: Sequence[tuple[Limited, str, str]], now_ms: int) -> None:
        """``take`` for each ``(action, who, why)`` in order, as if called one after the other:
        the first refusal raises, and the takes before it stay taken."""
        now_us = now_ms * 1000
        asked: list[tuple[str, Rate]] = []
        remembered: tuple[str, int] | None = None
        for action, who, why in takes:
            bucket = f"{action.value}#{who}"
            until = self._refused_until.get(bucket)
            if until is not None and now_us < until:
                remembered = why, until - now_us  # refused without asking; those before it are
                break
            asked.append((bucket, self._rates[action]))
        taken, wait_us = self._buckets.take_tokens(asked, now_ms) if asked else (0, 0)
        for bucket, _ in asked[:taken]:
            self._refused_until.pop(bucket, None)
        if wait_us:
            self._remember(asked[taken][0], now_us + wait_us)
            raise _limited(takes[taken][2], wait_us)
        if remembered is not None:
            raise _limited(*remembered)

    def take(self, action: Limited, who: str, now_ms: int, why: str) -> None:
        """Take one ``action`` for ``who`` (a user id, ``ip:{address}``, or a topic); raises
        ``rate_limited`` with ``retryAfter`` in seconds when the bucket is empty."""
        bucket = f"{action.value}#{who}"
        now_us = now_ms * 1000
        until = self._refused_until.get(bucket)
        if until is not None and now_us < until:
            raise _limited(why, until - now_us)
        wait_us = self._buckets.take_token(bucket, self._rates[action], now_ms)
        if not wait_us:
            self._refused_until.pop(bucket, None)
            return
        self._remember(bucket, now_us + wait_us)
        raise _limited(why, wait_us)

    def _remember(self, bucket: str, until_us: int) -> None:
        self._refused_until[bucket] = until_us
        self._refused_until.move_to_end(bucket)
        if len(self._refused_until) > self._max_remembered:
            self._refused_until.popitem(last=False)  # forgetting only ever costs a store write


def _send_specs(sender: str, topic: str, why: str) -> list[tuple[Limited, str, str]]:
    return [(Limited.SEND, sender, why), (Limited.TOPIC_SEND, topic, _topic_why(topic))]


def _topic_why(topic: str) -> str:
    return f"{topic} is receiving too many messages"


def _limited(why: str, wait_us: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.RATE_LIMITED, why, retry_after=max(0.001, round(wait_us / 1_000_000, 3))
    )
