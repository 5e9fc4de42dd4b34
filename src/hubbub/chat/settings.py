"""Chat settings: retention per topic class, token lifetime, keepalive, rate limits, presence at
scale. Read from the environment by the composition root, so the same code runs with the
template's values on AWS and locally.

The rate limits are per user (a guest's registrations: per source address) and shared by every
channel and execution environment (``hubbub.chat.ratelimit``); docs/protocol.md lists them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hubbub.protocol.limits import DEFAULT_LIMITS, Limits
from hubbub.protocol.topics import TopicClass, topic_class

__all__ = ["ChatSettings"]

_DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class ChatSettings:
    room_retention_s: int = _DAY_S
    desk_retention_s: int = 30 * _DAY_S
    user_retention_s: int = 30 * _DAY_S
    dedupe_retention_s: int = _DAY_S
    connection_ttl_s: int = 2 * 3600 + 600
    token_ttl_s: int = 90 * _DAY_S
    operator_token_ttl_s: int = 12 * 3600
    typing_per_s: float = 2.0
    typing_burst: int = 6
    send_per_s: float = 10.0
    send_burst: int = 30
    rename_per_s: float = 0.2
    rename_burst: int = 3
    guest_register_per_s: float = 1.0
    guest_register_burst: int = 30
    topic_send_per_s: float = 50.0
    """Sends into one topic, all senders together: below what one topic head can take on
    DynamoDB (docs/deploy.md, "Hot rooms"), so a flood is refused with ``rate_limited`` instead
    of losing races on the head until the store gives up."""
    topic_send_burst: int = 100
    operator_recheck_s: float = 5.0
    max_wildcard_filters: int = 1000
    """Distinct wildcard filters in use across the whole deployment (the registry's bound); a
    subscribe that would add one more is refused, one already in use is always accepted."""
    presence_threshold: int = 100
    """A room with more exact subscriptions than this stops pushing ``joined``/``left`` per
    member and pushes a ``presence {topic, count}`` summary instead."""
    presence_summary_every_s: float = 5.0
    """At most one summary per room in this many seconds, whichever process pushes it."""
    idle_timeout_s: float = 600.0
    """How long the gateway keeps a silent connection: API Gateway's 10 minutes on AWS, the local
    runtime's ``idle_timeout_s`` quota locally (``HUBBUB_RUNTIME_IDLE_TIMEOUT_S``)."""
    upload_url_s: int = 300
    """How long a presigned upload (POST) may be used."""
    attachment_url_s: int = 3600
    """How long an attachment's presigned GET works; reading the message again renews it."""
    chunk_threshold: int = 500
    """A topic with more recipients than this is fanned out in chunks by the push function
    (when the stack has its queue); 0 never."""
    chunk_size: int = 1000
    """Connection ids per chunk at most."""
    chunk_groups: int = 64
    """SQS FIFO message groups the chunks are spread over (fixed: see chat/chunking.py)."""
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)

    def retention_s(self, topic: str) -> int:
        cls = topic_class(topic)
        if cls is TopicClass.DESK:
            return self.desk_retention_s
        if cls is TopicClass.USER:
            return self.user_retention_s
        return self.room_retention_s

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ChatSettings:
        def seconds(name: str, default: int) -> int:
            raw = env.get(name)
            return default if raw in (None, "") else int(str(raw))

        def rate(name: str, default: float) -> float:
            value = float(env.get(name) or default)
            if value <= 0:
                raise ValueError(f"{name} must be a positive number of events per second")
            return value

        base = cls()
        return cls(
            room_retention_s=seconds("ROOM_RETENTION_SECONDS", base.room_retention_s),
            desk_retention_s=seconds("DESK_RETENTION_SECONDS", base.desk_retention_s),
            user_retention_s=seconds("USER_RETENTION_SECONDS", base.user_retention_s),
            dedupe_retention_s=seconds("DEDUPE_RETENTION_SECONDS", base.dedupe_retention_s),
            connection_ttl_s=seconds("CONNECTION_TTL_SECONDS", base.connection_ttl_s),
            token_ttl_s=seconds("TOKEN_TTL_SECONDS", base.token_ttl_s),
            operator_token_ttl_s=seconds("OPERATOR_TOKEN_TTL_SECONDS", base.operator_token_ttl_s),
            send_per_s=rate("SEND_RATE_PER_SECOND", base.send_per_s),
            send_burst=seconds("SEND_BURST", base.send_burst),
            typing_per_s=rate("TYPING_RATE_PER_SECOND", base.typing_per_s),
            typing_burst=seconds("TYPING_BURST", base.typing_burst),
            rename_per_s=rate("RENAME_RATE_PER_SECOND", base.rename_per_s),
            rename_burst=seconds("RENAME_BURST", base.rename_burst),
            guest_register_per_s=rate("GUEST_REGISTER_RATE_PER_SECOND", base.guest_register_per_s),
            guest_register_burst=seconds("GUEST_REGISTER_BURST", base.guest_register_burst),
            topic_send_per_s=rate("TOPIC_SEND_RATE_PER_SECOND", base.topic_send_per_s),
            topic_send_burst=seconds("TOPIC_SEND_BURST", base.topic_send_burst),
            # 0 checks the directory on every action; "" or unset keeps the default
            operator_recheck_s=float(env.get("OPERATOR_RECHECK_SECONDS") or 0)
            if env.get("OPERATOR_RECHECK_SECONDS") not in (None, "")
            else base.operator_recheck_s,
            max_wildcard_filters=seconds("MAX_WILDCARD_FILTERS", base.max_wildcard_filters),
            presence_threshold=seconds("PRESENCE_THRESHOLD", base.presence_threshold),
            presence_summary_every_s=float(
                env.get("PRESENCE_SUMMARY_SECONDS") or base.presence_summary_every_s
            ),
            chunk_threshold=seconds("FANOUT_CHUNK_THRESHOLD", base.chunk_threshold),
            chunk_size=max(1, seconds("FANOUT_CHUNK_SIZE", base.chunk_size)),
            chunk_groups=max(1, seconds("FANOUT_CHUNK_GROUPS", base.chunk_groups)),
            # the local runtime says what its gateway does; API Gateway's is fixed (10 minutes)
            idle_timeout_s=float(env.get("HUBBUB_RUNTIME_IDLE_TIMEOUT_S") or base.idle_timeout_s),
            upload_url_s=seconds("UPLOAD_URL_SECONDS", base.upload_url_s),
            attachment_url_s=seconds("ATTACHMENT_URL_SECONDS", base.attachment_url_s),
            limits=replace(
                base.limits,
                max_wildcards=seconds("MAX_WILDCARDS_PER_CONNECTION", base.limits.max_wildcards),
                max_guest_wildcards=seconds(
                    "MAX_GUEST_WILDCARDS_PER_CONNECTION", base.limits.max_guest_wildcards
                ),
            ),
        )
