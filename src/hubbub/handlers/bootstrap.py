"""The composition root: builds one ``Chat`` per execution environment from its environment.

It runs on the first invocation, not at import, and the result is kept while the environment is
warm. Which adapters it picks is configuration, exactly as on AWS: the local runtime hands the
functions ``HUBBUB_RUNTIME_API`` and ``HUBBUB_RUNTIME_DATA_DIR`` the way Lambda hands them
``AWS_LAMBDA_RUNTIME_API``; without them the DynamoDB store and ``@connections`` are used.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

from hubbub.chat.service import Chat
from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import Clock, OffsetClock, SystemClock
from hubbub.files.port import Files, NoFiles
from hubbub.push.port import Broadcast, ChunkQueue, MqttHangup, NoBroadcast, NoMqttHangup, Push
from hubbub.store.port import Store

__all__ = ["build_chat", "chat", "use_chat"]


class _Warm:
    """What this execution environment keeps between invocations: its one ``Chat``."""

    chat: Chat | None = None


def chat() -> Chat:
    """The environment's chat: built from ``os.environ`` on first use, then kept while warm."""
    if _Warm.chat is None:
        _Warm.chat = build_chat(os.environ)
    return _Warm.chat


def use_chat(service: Chat | None) -> None:
    """Make ``service`` the chat every handler of this environment uses; None forgets it, so the
    next invocation builds one from the environment again.

    For a host that composes the chat itself: the handler tests hand in one built by
    ``build_chat`` on a SQLite store, a manual clock and a recording push.
    """
    _Warm.chat = service


def build_chat(
    env: Mapping[str, str],
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    push: Push | None = None,
    broadcast: Broadcast | None = None,
    chunks: ChunkQueue | None = None,
    mqtt_hangup: MqttHangup | None = None,
) -> Chat:
    """The chat the environment ``env`` configures; ``store``, ``clock``, ``push``,
    ``broadcast``, ``chunks`` and ``mqtt_hangup``, when given, replace the adapters it would
    pick (the settings and the token secret still come from it)."""
    settings = ChatSettings.from_env(env)
    return Chat(
        store=_store(env) if store is None else store,
        push=_push(env) if push is None else push,
        clock=_clock(env) if clock is None else clock,
        tokens=TokenIssuer(
            _token_secret_source(env),
            settings.token_ttl_s,
            operator_ttl_s=settings.operator_token_ttl_s,
        ),
        settings=settings,
        broadcast=_broadcast(env) if broadcast is None else broadcast,
        files=_files(env),
        chunks=_chunks(env) if chunks is None else chunks,
        mqtt_hangup=_mqtt_hangup(env) if mqtt_hangup is None else mqtt_hangup,
    )


def _chunks(env: Mapping[str, str]) -> ChunkQueue | None:
    """The push function's queue when the stack has one (``CHUNK_QUEUE_URL``, set by the
    template); without it every topic is fanned out by the fan-out function itself."""
    url = env.get("CHUNK_QUEUE_URL")
    if not url:
        return None
    from hubbub.push.sqs.adapter import SqsChunkQueue

    return SqsChunkQueue(url)


def _files(env: Mapping[str, str]) -> Files:
    """The attachments bucket (``ATTACHMENTS_BUCKET``, the template's ``!Ref``); its endpoint
    is the standard ``AWS_ENDPOINT_URL_S3`` (the runtime's local S3), which boto3 reads."""
    bucket = env.get("ATTACHMENTS_BUCKET")
    if not bucket:
        return NoFiles()
    from hubbub.files.s3 import S3Files

    return S3Files(bucket)


def _broadcast(env: Mapping[str, str]) -> Broadcast:
    """IoT Core's data plane when the stack has the MQTT edge (``IOT_FANOUT=true``, set by the
    template's condition); its endpoint is the standard ``AWS_ENDPOINT_URL_IOT_DATA_PLANE``."""
    if env.get("IOT_FANOUT", "false") != "true":
        return NoBroadcast()
    from hubbub.push.iot.adapter import IotDataBroadcast

    return IotDataBroadcast(
        connect_timeout_s=_number(env, "PUSH_CONNECT_TIMEOUT_SECONDS", 1.0),
        read_timeout_s=_number(env, "PUSH_READ_TIMEOUT_SECONDS", 2.0),
    )


def _mqtt_hangup(env: Mapping[str, str]) -> MqttHangup:
    """IoT Core's DeleteConnection for the functions that moderate, when the stack has the MQTT
    edge (``IOT_DISCONNECT=true``, set by the template's condition): a ban or kick disconnects
    the user's MQTT members."""
    if env.get("IOT_DISCONNECT", "false") != "true":
        return NoMqttHangup()
    from hubbub.push.iot.hangup import IotDataHangup

    return IotDataHangup(
        connect_timeout_s=_number(env, "PUSH_CONNECT_TIMEOUT_SECONDS", 1.0),
        read_timeout_s=_number(env, "PUSH_READ_TIMEOUT_SECONDS", 2.0),
    )


def _clock(env: Mapping[str, str]) -> Clock:
    offset_file = env.get("HUBBUB_CLOCK_OFFSET_FILE")
    if offset_file:
        return OffsetClock(Path(offset_file))
    return SystemClock()


def _store(env: Mapping[str, str]) -> Store:
    table = env.get("TABLE_NAME", "hubbub")
    data_dir = env.get("HUBBUB_RUNTIME_DATA_DIR")
    if env.get("HUBBUB_STORE", "sqlite" if data_dir else "dynamodb") == "sqlite":
        from hubbub.store.sqlite.adapter import SqliteStore

        if not data_dir:
            raise RuntimeError("HUBBUB_STORE=sqlite needs HUBBUB_RUNTIME_DATA_DIR")
        busy_ms = int(env.get("SQLITE_BUSY_TIMEOUT_MS") or 5000)
        path = Path(data_dir) / f"{table}.sqlite3"
        if env.get("HUBBUB_SQLITE_CHECKPOINTS") == "runtime":
            # the runtime checkpoints the WAL (and fsyncs) off the request path; a commit here
            # then never waits on a checkpoint's or a WAL restart's fsync (docs/benchmarks.md)
            return SqliteStore(
                path, busy_timeout_ms=busy_ms, synchronous="OFF", autocheckpoint=False
            )
        return SqliteStore(path, busy_timeout_ms=busy_ms)
    from hubbub.store.dynamodb.adapter import ClientLimits, DynamoStore

    defaults = ClientLimits()
    limits = ClientLimits(
        connect_timeout_s=_number(
            env, "DYNAMODB_CONNECT_TIMEOUT_SECONDS", defaults.connect_timeout_s
        ),
        read_timeout_s=_number(env, "DYNAMODB_READ_TIMEOUT_SECONDS", defaults.read_timeout_s),
        max_attempts=int(_number(env, "DYNAMODB_MAX_ATTEMPTS", defaults.max_attempts)),
    )
    endpoint = env.get("AWS_ENDPOINT_URL_DYNAMODB") or None
    return DynamoStore(table, endpoint_url=endpoint, limits=limits)


def _push(env: Mapping[str, str]) -> Push:
    """The runtime's batch push locally; ``HUBBUB_PUSH=apigateway`` forces the AWS adapter, which
    the runtime's own ``@connections`` endpoint also answers (that is how it is tested)."""
    runtime_api = env.get("HUBBUB_RUNTIME_API")
    if runtime_api and env.get("HUBBUB_PUSH", "runtime") == "runtime":
        from hubbub.push.local.adapter import RuntimePush

        return RuntimePush(runtime_api, env.get("HUBBUB_RUNTIME_KEY", ""))
    from hubbub.push.aws.adapter import ApiGatewayPush
    from hubbub.push.aws.breaker import CircuitBreaker

    return ApiGatewayPush(
        env["CONNECTIONS_URL"],
        connect_timeout_s=_number(env, "PUSH_CONNECT_TIMEOUT_SECONDS", 1.0),
        read_timeout_s=_number(env, "PUSH_READ_TIMEOUT_SECONDS", 2.0),
        budget_s=_number(env, "PUSH_BUDGET_SECONDS", 10.0),
        breaker=CircuitBreaker(
            threshold=int(_number(env, "PUSH_BREAKER_THRESHOLD", 5)),
            cooldown_s=_number(env, "PUSH_BREAKER_COOLDOWN_SECONDS", 5.0),
        ),
    )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A numeric setting; unset or empty means the default."""
    return float(env.get(name) or default)


def _token_secret_source(env: Mapping[str, str]) -> Callable[[], bytes]:
    """Read on first use, not here: Disconnect and FanOut never sign or verify, so they never
    read it, and their roles are not allowed to."""
    data_dir = env.get("HUBBUB_RUNTIME_DATA_DIR")
    if data_dir:
        path = Path(data_dir) / "token-secret"
        return cache(lambda: _local_secret(path))

    def from_secrets_manager() -> bytes:
        from aws_lambda_powertools.utilities.parameters import get_secret

        # Powertools keeps it for 5 minutes, so a rotated secret is picked up within that
        value = get_secret(env["TOKEN_SECRET_ARN"], max_age=300)
        return value.encode() if isinstance(value, str) else bytes(value)

    return from_secrets_manager


def _local_secret(path: Path) -> bytes:
    """A random secret kept in the data dir, created once with owner-only permissions."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_hex(32).encode())
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(tmp, path)  # atomic: the first writer wins, nobody reads a half-written file
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()
