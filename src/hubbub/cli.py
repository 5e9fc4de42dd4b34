"""``hubbub``: serve the chat locally, and the tools around it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from hubbub.admin_commands import operators, readable_time, rooms
from hubbub.packaged import PACKAGE_DIR, default_template, version
from hubbub.sentmail import add_mail_parser, show_mail

__all__ = ["default_template", "main", "readable_time", "runs_hubbub", "version"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubbub", description="hubbub: serve the chat locally, and the tools around it."
    )
    parser.add_argument("--version", action="version", version=f"hubbub {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _operator_parser(sub, _admin_target())
    _client_parsers(sub)
    rooms = sub.add_parser("rooms", parents=[_admin_target()], help="list rooms by recent activity")
    rooms.add_argument("--limit", type=int, default=20)
    _bench_parser(sub)
    add_mail_parser(sub)
    return parser


_Subparsers = Any  # argparse's _SubParsersAction is private


def _serve_parser(sub: _Subparsers) -> None:
    serve = sub.add_parser(
        "serve", help="run the SAM template locally (WebSocket, Lambda, streams)"
    )
    serve.add_argument(
        "--template", type=Path, default=None, help="SAM template (default: ./template.yaml)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    serve.add_argument(
        "--mqtt-port",
        type=int,
        default=1883,
        help="IoT Core's MQTT over plain TCP (0 picks a free port); MQTT over WebSocket is at"
        " /mqtt on --port",
    )
    serve.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="durable state lives here"
    )
    serve.add_argument("--workers", type=int, default=4, help="execution environments per function")
    serve.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    serve.add_argument(
        "--stack-name",
        default="local",
        help="AWS::StackName, which prefixes generated table names (two stacks can share one"
        " --dynamodb-endpoint)",
    )
    serve.add_argument("--env-vars", type=Path, help="JSON like sam local --env-vars")
    serve.add_argument("--no-web", action="store_true", help="do not serve the web client")
    serve.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an API Gateway quota, e.g. idle_timeout_s=30",
    )
    serve.add_argument(
        "--iot-quota",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an IoT Core quota, e.g. publishes_per_second=200",
    )
    serve.add_argument(
        "--fault", action="append", default=[], metavar="NAME=VALUE", help="inject a fault"
    )
    serve.add_argument("--log-level", default="INFO", help="INFO shows START/END/REPORT lines")
    serve.add_argument("--log-format", choices=("text", "json"), default="text")
    _serve_store_arguments(serve)


def _serve_store_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--store",
        choices=("auto", "sqlite", "dynamodb"),
        default="auto",
        help="where the template's tables live: sqlite (hubbub's store writes SQLite files in the"
        " data dir; no table is created), dynamodb (every table is created in an embedded moto,"
        " or at --dynamodb-endpoint, and streams are read through dynamodbstreams), or auto:"
        " sqlite when every function is one of hubbub's own handlers, dynamodb otherwise",
    )
    serve.add_argument(
        "--dynamodb-endpoint",
        metavar="URL",
        default=None,
        help="create the tables here (DynamoDB Local, LocalStack) instead of in an embedded moto",
    )
    serve.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="port for https:// and wss:// (0 picks a free one; TLS is on by default when the"
        " cryptography package is installed: the tls extra)",
    )
    serve.add_argument("--no-tls", action="store_true", help="serve plain http:// and ws:// only")
    serve.add_argument(
        "--tls-hostname",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the TLS certificate also covers (the name clients use to reach --host)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy (address or network) whose X-Forwarded-For names the client, for"
        " the per-address limits and sourceIp",
    )


def _admin_target() -> argparse.ArgumentParser:
    """The options of the administrative commands: where the chat's data is."""
    local = argparse.ArgumentParser(add_help=False)
    local.add_argument("--template", type=Path, default=None)
    local.add_argument("--data-dir", type=Path, default=Path("data"))
    local.add_argument(
        "--store", choices=("sqlite", "dynamodb"), default="sqlite", help="where the data is"
    )
    local.add_argument("--dynamodb-endpoint", default=None, help="with --store dynamodb, locally")
    local.add_argument(
        "--stack-name", default="local", help="the --stack-name the server was started with"
    )
    local.add_argument("--aws", action="store_true", help="a deployed stack (your AWS credentials)")
    local.add_argument("--table", default=None, help="with --aws: the stack's TableName output")
    local.add_argument("--token-secret-arn", default=None, help="with --aws: the token secret")
    local.add_argument(
        "--connections-url",
        default=None,
        help="with --aws: the stack's ConnectionsUrl output, so `operator remove` closes the"
        " operator's open connections",
    )
    return local


def _operator_parser(sub: _Subparsers, local: argparse.ArgumentParser) -> None:
    operator = sub.add_parser("operator", help="manage support-desk operators")
    op_sub = operator.add_subparsers(dest="operator_command", required=True)
    add = op_sub.add_parser(
        "add", parents=[local], help="create an operator and print their sign-in token"
    )
    add.add_argument("name")
    op_sub.add_parser("list", parents=[local], help="list operators")
    remove = op_sub.add_parser(
        "remove", parents=[local], help="remove an operator (their token stops working)"
    )
    remove.add_argument("name")
    token = op_sub.add_parser(
        "token", parents=[local], help="print a fresh sign-in token for an operator"
    )
    token.add_argument("name")


def _client_parsers(sub: _Subparsers) -> None:
    chat = sub.add_parser("chat", help="chat in a room from the terminal")
    chat.add_argument("url", nargs="?", default="ws://127.0.0.1:8000/ws", help="WebSocket URL")
    chat.add_argument("--room", default="lobby", help="room name (or a full topic)")
    chat.add_argument("--nick", default=None, help="nickname (default: your login name)")
    chat.add_argument("--token", default=None, help="a visitor or operator token")

    tail = sub.add_parser("tail", help="print a topic's messages as JSON lines")
    tail.add_argument("topic", help="a topic or filter, e.g. room/lobby or room/+")
    tail.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    tail.add_argument("--token", default=None)
    tail.add_argument("--since", type=int, default=None, help="start after this seq")


def _bench_parser(sub: _Subparsers) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmark hubbub against websockets and python-socketio (needs the bench extra)",
        description="Run bench/ (docs/benchmarks.md): every workload against every peer.",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes and short steps")
    bench.add_argument("--out", type=Path, default=None, help="results dir (bench/results)")
    bench.add_argument("--peers", default="websockets,socketio,hubbub", help="comma list")
    bench.add_argument(
        "--only", default="lambda,lat,w1,w4,w3,w0", help="comma list of workloads to run"
    )
    bench.add_argument("--docs", action="store_true", help="also write docs/img/bench and tables")


def _assignments(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def _typed(cls: type, raw: dict[str, str]) -> dict[str, object]:
    kinds = {f.name: f.type for f in fields(cls)}
    out: dict[str, object] = {}
    for key, value in raw.items():
        if key not in kinds:
            raise SystemExit(f"unknown name {key!r}; choose from {', '.join(sorted(kinds))}")
        kind = str(kinds[key])
        if "bool" in kind:
            out[key] = value.lower() in ("1", "true", "yes", "on")
        elif "float" in kind:
            out[key] = float(value)
        elif "int" in kind:
            out[key] = int(value)
        else:
            out[key] = value
    return out


def _web_mount() -> Any:
    from hubbub.web.site import mount

    return mount


HUBBUB_HANDLERS = "hubbub.handlers"


def runs_hubbub(spec: Any) -> bool:
    """Whether the template is hubbub's chat: a WebSocket API and every function one of hubbub's
    own handlers. Only then is the web client mounted, since it needs that API's routes; for any
    other template ``/`` lists what the runtime serves instead."""
    handlers = [str(f.handler) for f in spec.functions.values()]
    return (
        bool(spec.websocket_apis)
        and bool(handlers)
        and all(h.startswith(f"{HUBBUB_HANDLERS}.") for h in handlers)
    )


def _check_handlers(functions: Iterable[Any]) -> None:
    """Fail at start-up, not at the first request, when a Handler names no module.

    It looks for the module's file under CodeUri (as Lambda does), or an installed package, without
    importing anything of the app.
    """
    import importlib.util

    for fn in functions:
        module = str(fn.handler).rpartition(".")[0]
        relative = Path(*module.split("."))
        in_code = (fn.code_dir / f"{relative}.py").exists() or (
            fn.code_dir / relative / "__init__.py"
        ).exists()
        top = module.split(".")[0]
        if not in_code and importlib.util.find_spec(top) is None:
            raise ValueError(
                f"{fn.logical_id}: Handler {fn.handler} names module {module}, "
                f"which is neither under {fn.code_dir} nor installed"
            )


def serve(args: argparse.Namespace) -> int:
    from hubbub.logs import configure
    from hubbub.runtime import eventloop
    from hubbub.runtime.apigateway.quotas import Quotas
    from hubbub.runtime.cloudformation import TemplateError
    from hubbub.runtime.config import RuntimeConfig
    from hubbub.runtime.faults import Faults
    from hubbub.runtime.forwarded import TrustedProxies
    from hubbub.runtime.iot.quotas import IotQuotas
    from hubbub.runtime.server import LocalRuntime
    from hubbub.servedefaults import local_parameters

    configure(args.log_level, args.log_format)
    template = (args.template or default_template()).resolve()
    env_overrides: dict[str, dict[str, str]] = {}
    if args.env_vars:
        env_overrides = json.loads(args.env_vars.read_text())
    config = RuntimeConfig(
        template=template,
        data_dir=args.data_dir.resolve(),
        host=args.host,
        port=args.port,
        mqtt_port=args.mqtt_port,
        iot_quotas=IotQuotas(**_typed(IotQuotas, _assignments(args.iot_quota))),  # type: ignore[arg-type]
        quotas=Quotas(**_typed(Quotas, _assignments(args.quota))),  # type: ignore[arg-type]
        faults=Faults(**_typed(Faults, _assignments(args.fault))),  # type: ignore[arg-type]
        parameter_overrides=local_parameters(template, _assignments(args.parameter_overrides)),
        env_overrides=env_overrides,
        max_workers=args.workers,
        store=args.store,
        sqlite_packages=(HUBBUB_HANDLERS,),
        dynamodb_endpoint=args.dynamodb_endpoint,
        tls="off" if args.no_tls else ("auto" if args.tls_port is None else "on"),
        tls_port=args.tls_port or 0,
        stack_name=args.stack_name,
        trusted_proxies=tuple(args.trusted_proxy),
        tls_hostnames=tuple(args.tls_hostname),
    )
    try:
        TrustedProxies(config.trusted_proxies)
    except ValueError as exc:
        print(f"hubbub: {exc}", file=sys.stderr)
        return 2
    try:
        runtime = LocalRuntime(config)
        _check_handlers(runtime.spec.functions.values())
        if not args.no_web and runs_hubbub(runtime.spec):
            runtime.config.mount = _web_mount()
    except (TemplateError, OSError, ValueError, yaml.YAMLError) as exc:
        print(f"hubbub: cannot load {template}: {exc}", file=sys.stderr)
        return 2
    try:
        return eventloop.run(_serve(runtime))
    except eventloop.LoopChoiceError as exc:
        print(f"hubbub: {exc}", file=sys.stderr)
        return 2


async def _serve(runtime: object) -> int:
    from hubbub.runtime.config import RuntimeStartError
    from hubbub.runtime.exposure import exposure_warning
    from hubbub.runtime.heap import freeze_startup_objects
    from hubbub.runtime.server import LocalRuntime

    assert isinstance(runtime, LocalRuntime)
    try:
        await runtime.start()
    except RuntimeStartError as exc:
        print(f"hubbub: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"hubbub: cannot listen on {runtime.config.host}:{runtime.config.port}"
            f" (tls {runtime.config.tls_port}, mqtt {runtime.config.mqtt_port}): {exc}",
            file=sys.stderr,
        )
        return 2
    freeze_startup_objects()  # off the collector's full passes (runtime/heap.py)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    warning = exposure_warning(runtime.config.host, runtime.port)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    if runtime.config.mount is not None:
        print(f"hubbub: web        {runtime.base_url}/", flush=True)
    for name, gateway in runtime.gateways.items():
        print(f"hubbub: websocket  {runtime.websocket_url(name)}", flush=True)
        print(
            f"hubbub: @connections {runtime.base_url}/{gateway.api.stage}/@connections", flush=True
        )
    for name in runtime.http_apis:
        print(f"hubbub: http api  {runtime.http_api_url(name)}", flush=True)
    for name in runtime.rest_apis:
        print(f"hubbub: rest api  {runtime.rest_api_url(name)}", flush=True)
    print(f"hubbub: mqtt       {runtime.mqtt_ws_url}", flush=True)
    print(f"hubbub: mqtt-tcp   {runtime.mqtt_tcp_url}", flush=True)
    if runtime.tls_files is not None:
        print(
            f"hubbub: tls        {runtime.tls_base_url} ca={runtime.tls_files.ca_cert}", flush=True
        )
        for name in runtime.gateways:
            print(f"hubbub: websocket  {runtime.websocket_url(name, secure=True)}", flush=True)
    backing = runtime.backing
    if backing is not None and backing.endpoint is not None:
        where = "embedded moto" if backing.embedded is not None else "external"
        print(f"hubbub: dynamodb   {backing.endpoint} ({where})", flush=True)
    messaging = runtime.messaging
    if messaging is not None and messaging.endpoint is not None:
        print(f"hubbub: sqs/sns    {messaging.endpoint} (embedded moto)", flush=True)
    buckets = runtime.s3.info(runtime.base_url).get("buckets", {}) if runtime.s3 else {}
    for name, bucket in buckets.items():
        print(f"hubbub: s3         {runtime.base_url}/_aws/s3/{bucket} ({name})", flush=True)
    if runtime.spec.tables:
        print(f"hubbub: store      {runtime.store}", flush=True)
    print(f"hubbub: ready {runtime.base_url}", flush=True)
    await stop.wait()
    print("hubbub: shutting down", flush=True)
    with contextlib.suppress(Exception):
        await runtime.stop()
    return 0


def chat(args: argparse.Namespace) -> int:
    import getpass

    from hubbub.terminal.chat import run_chat

    nickname = args.nick or getpass.getuser()
    return asyncio.run(run_chat(args.url, args.room, nickname, args.token))


def tail(args: argparse.Namespace) -> int:
    from hubbub.terminal.tail import run_tail

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_tail(args.url, args.topic, args.token, args.since))
    return 0


def bench(args: argparse.Namespace) -> int:
    """``bench/`` lives beside ``src/`` in the repository; its libraries come with the extra."""
    import importlib

    repo = PACKAGE_DIR.parents[1]
    if (repo / "bench" / "run.py").exists() and str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        runner = importlib.import_module("bench.run")  # not a package of hubbub's: no typing
    except ModuleNotFoundError as exc:
        if exc.name == "bench":
            print("hubbub: bench/ is not here; run from a clone of the repository", file=sys.stderr)
        else:
            print(
                f"hubbub: `hubbub bench` needs the bench extra ({exc.name} is missing):\n"
                f"    pip install -c constraints.txt -e '{repo}[bench]'",
                file=sys.stderr,
            )
        return 2
    if args.out is None:
        args.out = repo / "bench" / "results"
    return int(runner.run_with(args))


def _reporting_failures(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Administrative commands reach a store (maybe AWS): a missing output, missing credentials
    or an unknown table is one line on stderr, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        from hubbub.store.port import StoreUnavailable

        try:
            return command(args)
        except (ValueError, StoreUnavailable, BotoCoreError, ClientError) as exc:
            print(f"hubbub: {exc}", file=sys.stderr)
            return 1

    return run


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {
        "serve": serve,
        "operator": _reporting_failures(operators),
        "rooms": _reporting_failures(rooms),
        "chat": chat,
        "tail": tail,
        "bench": bench,
        "mail": show_mail,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
