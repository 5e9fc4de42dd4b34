"""The commands that act on a deployment's store: `hubbub operator ...` and `hubbub rooms`.

They run the chat service in this process against the store a ``Target`` names (a data dir, or a
stack on AWS), so they share one way to build it and nothing with `hubbub serve`.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from hubbub.packaged import default_template

__all__ = ["local_chat", "operators", "readable_time", "rooms", "target"]


def target(args: argparse.Namespace) -> Any:
    from hubbub.admin import Target

    return Target(
        template=(args.template or default_template()).resolve(),
        data_dir=args.data_dir,
        store=args.store,
        dynamodb_endpoint=args.dynamodb_endpoint,
        stack_name=args.stack_name,
        aws=args.aws,
        table=args.table,
        token_secret_arn=args.token_secret_arn,
        connections_url=args.connections_url,
    )


def local_chat(args: argparse.Namespace) -> Any:
    from hubbub.admin import admin_chat

    return admin_chat(target(args))


def operators(args: argparse.Namespace) -> int:
    from hubbub.protocol.errors import ProtocolError

    chat = local_chat(args)
    now = chat.clock.now_ms()
    if args.operator_command == "add":
        try:
            operator, token = chat.desk.add_operator(args.name, now)
        except ProtocolError as exc:
            print(f"hubbub: {exc.message}", file=sys.stderr)
            return 1
        print(f"operator {operator.name} ({operator.id}) added. Sign in with this token:")
        print(token)
        return 0
    if args.operator_command == "list":
        for op in chat.store.list_operators():
            print(f"{op.name}\t{op.id}")
        return 0
    if args.operator_command == "token":
        found = [op for op in chat.store.list_operators() if args.name in (op.name, op.id)]
        if not found:
            print(f"hubbub: no operator {args.name!r}", file=sys.stderr)
            return 1
        print(chat.desk.operator_token(found[0], now))
        return 0
    return _remove_operator(args, chat, now)


def _remove_operator(args: argparse.Namespace, chat: Any, now: int) -> int:
    """Remove, then close their open connections; what could not be closed is refused at its
    next action anyway (docs/security.md)."""
    from hubbub.admin import admin_hangup
    from hubbub.chat.revocation import remove_operator

    hangup = admin_hangup(target(args))
    try:
        removal = remove_operator(chat.desk, chat.store, hangup, args.name, now)
    finally:
        if hangup is not None:
            hangup.close()
    if removal is None:
        print(f"hubbub: no operator {args.name!r}", file=sys.stderr)
        return 1
    print(f"operator {args.name} removed; {len(removal.closed)} open connection(s) closed")
    if removal.not_closed:
        print(
            f"hubbub: {len(removal.not_closed)} connection(s) could not be closed"
            f" ({'no --connections-url' if hangup is None else 'see the log'}); each is refused"
            " at its next action",
            file=sys.stderr,
        )
    return 0


def readable_time(ms: int, now_ms: int, tz: datetime.tzinfo | None = None) -> str:
    """An epoch-millisecond time as a person reads it: ISO-8601 to the second, in local time
    (or ``tz``), and how long ago by ``now_ms`` (the chat's clock, which may run ahead)."""
    when = datetime.datetime.fromtimestamp(ms / 1000, tz=tz).astimezone(tz)
    stamp = when.isoformat(sep=" ", timespec="seconds")
    seconds = abs(now_ms - ms) // 1000
    if seconds < 1:
        return f"{stamp} (just now)"
    return f"{stamp} ({_span(seconds)} ago)" if now_ms > ms else f"{stamp} (in {_span(seconds)})"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def rooms(args: argparse.Namespace) -> int:
    chat = local_chat(args)
    now = chat.clock.now_ms()
    for head in chat.store.recent_topics("room", None, args.limit, now):
        last = readable_time(head.updated_at, now)
        print(f"{head.topic}\t{head.last_seq} messages\tlast {last}")
    return 0
