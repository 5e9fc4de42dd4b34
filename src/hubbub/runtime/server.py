"""Assembles the local runtime from a template: function pools, WebSocket gateways, HTTP and REST
APIs, the ``@connections`` API, stream pollers, schedules, queues and topics with their pollers,
and the runtime's own admin endpoints, on one aiohttp app.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import ssl
from typing import Any

from aiohttp import web

from hubbub.clock import OffsetClock
from hubbub.runtime import tls
from hubbub.runtime.admin_api import add_admin_routes
from hubbub.runtime.apigateway.connections import add_batch_route, add_connections_routes
from hubbub.runtime.apigateway.http.gateway import HttpApiGateway
from hubbub.runtime.apigateway.http.mounting import HTTP_PREFIX, REST_PREFIX
from hubbub.runtime.apigateway.rest.gateway import RestApiGateway
from hubbub.runtime.apigateway.websocket.gateway import WebSocketGateway, account_admission
from hubbub.runtime.cloudformation import AppSpec, StreamMappingSpec, load_app
from hubbub.runtime.config import RuntimeConfig, RuntimeStartError
from hubbub.runtime.datadir import make_private, private_umask
from hubbub.runtime.dynamodb.backing import Backing, StreamFeed, choose_store
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.lanes import Lane, carry_checkpoints, hash_key_of, poke_each
from hubbub.runtime.dynamodb.poller import StreamPoller
from hubbub.runtime.dynamodb.sources import DynamoStreamSource
from hubbub.runtime.eventbridge.scheduler import Scheduler
from hubbub.runtime.exposure import certificate_hosts, is_loopback, machine_addresses
from hubbub.runtime.forwarded import TrustedProxies, forwarded_middleware
from hubbub.runtime.headguard import HeadGuard
from hubbub.runtime.index import add_index_route
from hubbub.runtime.iot.service import WEBSOCKET_PATH as MQTT_PATH
from hubbub.runtime.iot.service import IotCore
from hubbub.runtime.lambda_.pool import FunctionPool
from hubbub.runtime.metrics import Registry
from hubbub.runtime.s3.service import S3_PATH, S3Service
from hubbub.runtime.secrets_file import load_credentials, write_private, write_secrets
from hubbub.runtime.ses.service import SesService
from hubbub.runtime.sigv4 import SigV4Verifier
from hubbub.runtime.sites import DualSite, GuardedSockSite
from hubbub.runtime.sqs.service import MessagingService
from hubbub.runtime.stores import StoresUnavailable, build_stores, start_stores, stop_stores
from hubbub.runtime.tls import TlsFiles

__all__ = ["LocalRuntime"]

log = logging.getLogger("hubbub.runtime")

_KEEPALIVE_S = 75.0
"""An idle kept-alive HTTP connection, or one whose next request head is slow, is closed after
this (aiohttp's ``run_app`` default; its server alone would wait an hour)."""


class LocalRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.spec: AppSpec = load_app(
            config.template,
            parameter_overrides=config.parameter_overrides,
            region=config.region,
            stack_name=config.stack_name,
            inline_code_dir=config.data_dir / "inline-code",
        )
        self.store = choose_store(
            self.spec,
            config.store,
            endpoint=config.dynamodb_endpoint,
            sqlite_packages=config.sqlite_packages,
        )
        self.trusted_proxies = TrustedProxies(config.trusted_proxies)
        relayed = [forwarded_middleware(self.trusted_proxies)] if self.trusted_proxies else []
        self.app = web.Application(client_max_size=1024**2, middlewares=relayed)
        quotas = config.quotas
        self.head_guard = HeadGuard(
            quotas.header_timeout_s, quotas.unfinished_heads_per_address, self.trusted_proxies
        )
        self.pools: dict[str, FunctionPool] = {}
        self.gateways: dict[str, WebSocketGateway] = {}
        self.http_apis: dict[str, HttpApiGateway] = {}
        self.rest_apis: dict[str, RestApiGateway] = {}
        self.scheduler: Scheduler | None = None
        self.pollers: list[StreamPoller] = []
        self.runtime_key = secrets.token_urlsafe(24)
        self.access_key_id, self.secret_access_key = load_credentials(config.data_dir)
        self.signatures = SigV4Verifier({self.access_key_id: self.secret_access_key}, "execute-api")
        self.state: RuntimeState | None = None
        self.backing: Backing | None = None
        self.messaging: MessagingService | None = None
        self.s3: S3Service | None = None
        self.tls_files: TlsFiles | None = None
        self.tls_port: int | None = None
        self.metrics = Registry()
        self._runner: web.AppRunner | None = None
        self._sockets: list[socket.socket] = []
        self.host = config.host
        self.port = config.port
        self.iot = IotCore(config.iot_quotas, config.faults)
        self.ses = SesService(
            self.spec,
            data_dir=config.data_dir,
            region=config.region,
            key=(self.access_key_id, self.secret_access_key),
        )
        self.mqtt_port = config.mqtt_port
        self._mqtt_socket: socket.socket | None = None

    @property
    def exposed(self) -> bool:
        """Listening beyond loopback: ``/metrics`` then needs the runtime key."""
        return not is_loopback(self.config.host)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tls_base_url(self) -> str | None:
        return None if self.tls_port is None else f"https://{self.host}:{self.tls_port}"

    def websocket_url(self, api: str | None = None, *, secure: bool = False) -> str:
        gateway = self.gateways[api] if api else next(iter(self.gateways.values()))
        if secure:
            if self.tls_port is None:
                raise RuntimeError("TLS is off")
            return f"wss://{self.host}:{self.tls_port}/{gateway.api.stage}"
        return f"ws://{self.host}:{self.port}/{gateway.api.stage}"

    @property
    def mqtt_ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{MQTT_PATH}"

    @property
    def mqtt_tcp_url(self) -> str:
        return f"mqtt://{self.host}:{self.mqtt_port}"

    def http_api_url(self, api: str) -> str:
        """The local stand-in for ``https://{apiId}.execute-api.{region}.amazonaws.com``."""
        return f"{self.base_url}{self.http_apis[api].base}"

    def rest_api_url(self, api: str) -> str:
        """The local stand-in for ``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}``."""
        return f"{self.base_url}{self.rest_apis[api].base}"

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._abandon()
            raise

    async def _start(self) -> None:
        private_umask()  # the workers inherit it: SQLite makes their files with it
        make_private(self.config.data_dir)
        write_secrets(
            self.config.data_dir, self.runtime_key, self.access_key_id, self.secret_access_key
        )
        self.state = RuntimeState(
            self.config.data_dir / "runtime.sqlite3", checkpoint_in_thread=True
        )
        self.clock = OffsetClock(self.config.data_dir / "clock-offset")
        sites = self._bind()
        self.backing, messaging = await self._start_stores()
        await self.ses.start(messaging.endpoint)
        self._make_pools(self.backing)
        self._add_routes()
        await self._make_pollers(self.backing, self.state)
        await self._serve(*sites)
        # where tools find the running runtime: `hubbub operator remove` closes connections
        # through its @connections
        write_private(self.config.data_dir / "runtime-info.json", json.dumps(self.info()))
        for gateway in self.gateways.values():
            gateway.start()
        for poller in self.pollers:
            poller.start()
        messaging.start_pollers(
            self.pools,
            max_workers=self.config.max_workers,
            poll_interval_s=self.config.poll_interval_s,
        )
        self.scheduler = Scheduler(
            self.spec.schedules,
            self.pools,
            self.clock.now_ms,
            region=self.config.region,
            account_id=self.spec.account_id,
        )
        self.scheduler.start()
        for logical_id, kind in self.spec.unsupported:
            log.warning("not emulated: %s (%s)", logical_id, kind)

    def _bind(self) -> tuple[socket.socket, socket.socket | None, ssl.SSLContext | None]:
        """Bind the ports first, so port 0 is known before the functions' environment is made."""
        self._sockets.append(sock := _listen(self.config.host, self.config.port))
        self.port = sock.getsockname()[1]
        self._sockets.append(mqtt := _listen(self.config.host, self.config.mqtt_port))
        self._mqtt_socket = mqtt
        self.mqtt_port = mqtt.getsockname()[1]
        tls_context = self._tls()
        if tls_context is None:
            return sock, None, None
        self._sockets.append(tls_sock := _listen(self.config.host, self.config.tls_port))
        self.tls_port = tls_sock.getsockname()[1]
        return sock, tls_sock, tls_context

    async def _start_stores(self) -> tuple[Backing, MessagingService]:
        """Tables and queues (``stores.py``); set on ``self`` first, so ``_abandon`` stops them
        even when their start fails half-way."""
        self.backing, self.messaging = build_stores(
            self.spec,
            self.store,
            key=(self.access_key_id, self.secret_access_key),
            data_dir=self.config.data_dir,
            region=self.config.region,
            endpoint=self.config.dynamodb_endpoint,
            now_ms=self.clock.now_ms,  # TTL expires by the runtime's clock
        )
        try:
            await start_stores(self.backing, self.messaging)
        except StoresUnavailable as exc:
            raise RuntimeStartError(str(exc)) from exc
        await self._start_s3(self.backing, self.messaging)
        return self.backing, self.messaging

    async def _start_s3(self, backing: Backing, messaging: MessagingService) -> None:
        """The buckets, in whichever moto the runtime already runs (``s3/service.py``)."""
        key = (self.access_key_id, self.secret_access_key)
        self.s3 = S3Service(self.spec, self.config, key, self.clock.now_ms)
        await self.s3.start(messaging.endpoint or (backing.endpoint if backing.embedded else None))

    def _function_env(self, backing: Backing) -> dict[str, str]:
        """What every function sees besides its template's variables: the runtime's endpoints,
        data dir, clock, idle timeout and credentials, the tables' endpoint, the TLS CA."""
        data_dir = self.config.data_dir
        return {
            "HUBBUB_RUNTIME_IDLE_TIMEOUT_S": f"{self.config.quotas.idle_timeout_s:g}",
            "HUBBUB_RUNTIME_API": f"{self.base_url}/_runtime",
            "HUBBUB_RUNTIME_KEY": self.runtime_key,
            "HUBBUB_RUNTIME_DATA_DIR": str(data_dir.resolve()),
            "HUBBUB_CLOCK_OFFSET_FILE": str((data_dir / "clock-offset").resolve()),
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": "local",
            **backing.function_env(),
            **self.iot.function_env(self.base_url),
            **(self.messaging.function_env() if self.messaging is not None else {}),
            **(self.s3.function_env(self.base_url) if self.s3 is not None else {}),
            **self.ses.function_env(self.base_url),
            **(self.tls_files.function_env() if self.tls_files is not None else {}),
        }

    def _make_pools(self, backing: Backing) -> None:
        config = self.config
        runtime_env = self._function_env(backing)
        shared = config.env_overrides.get("Parameters", {})
        for logical_id, fn in self.spec.functions.items():
            localized = {
                k: local for k, v in fn.environment.items() if (local := self._localize(v)) != v
            }
            pool = FunctionPool(
                fn,
                runtime_env=runtime_env,
                overrides={**localized, **shared, **config.env_overrides.get(logical_id, {})},
                max_workers=config.max_workers,
                region=config.region,
            )
            pool.on_complete = self._poke_all
            pool.metrics = self.metrics
            self.pools[logical_id] = pool

    def _add_routes(self) -> None:
        """WebSocket stages and their ``@connections``, the admin API, the HTTP APIs, then the
        host's own routes."""
        config = self.config
        admission = account_admission(config.quotas)
        for logical_id, api in self.spec.websocket_apis.items():
            gateway = WebSocketGateway(api, self.pools, config.quotas, config.faults, admission)
            gateway.metrics = self.metrics
            self.gateways[logical_id] = gateway
            self.app.router.add_get(f"/{api.stage}", gateway.handle)
            add_connections_routes(self.app, gateway, self.signatures)
        add_batch_route(self.app, self.gateways, self.runtime_key)
        add_admin_routes(self.app, self)
        self.iot.mount(self.app)
        if self.s3 is not None:
            self.s3.mount(self.app)
        self.iot.plug(self.app, self.spec, self.pools, {self.access_key_id: self.secret_access_key})
        self.ses.mount(self.app)
        self._http_api_routes()
        self._rest_api_routes()
        if config.mount is not None:
            config.mount(self.app, self)
        else:
            add_index_route(self.app, self)

    async def _make_pollers(self, backing: Backing, state: RuntimeState) -> None:
        for mapping in self.spec.mappings:
            feed = backing.feed(mapping)
            if state.use_source(mapping.name, feed.identity):
                log.info(
                    "%s reads a new stream (%s): checkpoint reset", mapping.name, feed.identity
                )
            lanes = self._lanes(mapping, feed, state)
            self.pollers += lanes
            if isinstance(feed.source, DynamoStreamSource):
                try:
                    await feed.source.start(poke_each(lanes), self.config.poll_interval_s)
                except Exception as exc:
                    raise RuntimeStartError(
                        f"{mapping.name}: cannot read the stream {feed.stream_arn}: {exc}"
                    ) from exc

    def _lanes(
        self, mapping: StreamMappingSpec, feed: StreamFeed, state: RuntimeState
    ) -> list[StreamPoller]:
        """The mapping's pollers: one, or one per lane of its ``ParallelizationFactor``, each on
        its own reader of a DynamoDB stream (a SQLite log is read by query, so they share it)."""
        factor = mapping.parallelization_factor
        if carry_checkpoints(state, mapping.name, factor):
            log.info(
                "%s: ParallelizationFactor is now %d: every lane starts again from the lowest"
                " position any reached",
                mapping.name,
                factor,
            )
        table = self.spec.tables[mapping.table]
        lanes: list[StreamPoller] = []
        for index in range(factor):
            source = feed.source
            if factor > 1 and isinstance(source, DynamoStreamSource):
                source = source.reader()
            poller = StreamPoller(
                mapping,
                table,
                feed.stream_arn,
                source,
                self.pools[mapping.function],
                state,
                region=self.config.region,
                poll_interval_s=self.config.poll_interval_s,
                duplicate_batches=lambda: self.config.faults.duplicate_stream_batches,
                paused=lambda: self.config.faults.streams_paused,
                now_ms=self.clock.now_ms,
                send_on_failure=None if self.messaging is None else self.messaging.sender,
                lane=Lane(index, factor, hash_key_of(table)),
            )
            poller.metrics = self.metrics
            lanes.append(poller)
        return lanes

    async def _serve(
        self,
        sock: socket.socket,
        tls_sock: socket.socket | None,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, keepalive_timeout=_KEEPALIVE_S
        )
        await self._runner.setup()
        if self._mqtt_socket is not None:
            await self.iot.start(self._mqtt_socket)
        guard = self.head_guard
        if tls_context is None or tls_sock is None:
            await GuardedSockSite(self._runner, sock, guard).start()
            return
        # the main port takes TLS too, so https://{domainName}/{stage} always answers
        await DualSite(self._runner, sock, tls_context, guard).start()
        await GuardedSockSite(self._runner, tls_sock, guard, ssl_context=tls_context).start()

    def _tls(self) -> ssl.SSLContext | None:
        """The server's TLS context, with the CA and certificate made on first use."""
        mode = self.config.tls
        if mode == "off" or (mode == "auto" and not tls.available()):
            if mode == "auto":
                log.warning(
                    "TLS is off: install the 'cryptography' package (the tls extra) for https://"
                    " and wss://"
                )
            return None
        try:
            host = self.config.host
            machine = machine_addresses(host) if not is_loopback(host) else []
            hosts = certificate_hosts(host, self.config.tls_hostnames, machine)
            self.tls_files = tls.ensure_certificates(self.config.data_dir / "tls", hosts)
            return tls.server_context(self.tls_files)
        except (tls.TlsUnavailable, OSError, ssl.SSLError) as exc:
            raise RuntimeStartError(f"cannot set up TLS: {exc}") from exc

    async def _abandon(self) -> None:
        """Undo a start that failed half-way: no child process or socket outlives it."""
        await self.iot.stop()
        for poller in self.pollers:
            await poller.stop()
        if self.messaging is not None:
            await self.messaging.stop_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.gather(
            *(pool.close() for pool in self.pools.values()), return_exceptions=True
        )
        await stop_stores(self.backing, self.messaging)
        if self.s3 is not None:
            await self.s3.close()
        await self.ses.close()
        for sock in self._sockets:
            sock.close()
        if self.state is not None:
            self.state.close()
            self.state = None

    def _localize(self, value: str) -> str:
        """Point execute-api URLs of this template's APIs at the local server.

        A function configured on AWS with ``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}``
        (the usual ``@connections`` endpoint) then reaches the runtime unchanged in its code.
        """
        api_ids = [a.api_id for a in self.spec.websocket_apis.values()]
        api_ids += [a.api_id for a in self.spec.http_apis.values()]
        api_ids += [a.api_id for a in self.spec.rest_apis.values()]
        for api_id in api_ids:
            host = f"{api_id}.execute-api.{self.config.region}.amazonaws.com"
            value = value.replace(f"https://{host}", self.base_url)
            value = value.replace(f"wss://{host}", f"ws://{self.host}:{self.port}")
        return value

    def _poke_all(self) -> None:
        if self.backing is not None:
            self.backing.poke()
        if self.messaging is not None:
            self.messaging.poke()
        for poller in self.pollers:
            poller.poke()

    async def stop(self) -> None:
        (self.config.data_dir / "runtime-info.json").unlink(missing_ok=True)
        if self.scheduler is not None:
            await self.scheduler.stop()
        log.info("stopping: closing connections")
        for gateway in self.gateways.values():
            await gateway.shutdown()
        await self.iot.stop()
        log.info("stopping: stream and queue pollers")
        for poller in self.pollers:
            await poller.stop()
        if self.messaging is not None:
            await self.messaging.stop_pollers()
        log.info("stopping: HTTP server")
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.gather(*(api.shutdown() for api in self.http_apis.values()))
        await asyncio.gather(*(api.shutdown() for api in self.rest_apis.values()))
        log.info("stopping: workers")
        await asyncio.gather(*(pool.close() for pool in self.pools.values()))
        log.info("stopping: tables, queues and buckets")
        await stop_stores(self.backing, self.messaging)
        if self.s3 is not None:
            await self.s3.close()
        await self.ses.close()
        if self.state is not None:
            self.state.close()
        log.info("stopped")

    def info(self) -> dict[str, Any]:
        """Where everything is: the ``/_runtime/info`` answer, for tools and tests."""
        backing = self.backing
        return {
            "http": self.base_url,
            "https": self.tls_base_url,
            "caFile": None if self.tls_files is None else str(self.tls_files.ca_cert),
            "websockets": {
                name: {
                    "ws": self.websocket_url(name),
                    "wss": self.websocket_url(name, secure=True) if self.tls_port else None,
                }
                for name in self.gateways
            },
            "httpApis": {name: self.http_api_url(name) for name in self.http_apis},
            "mqtt": {"ws": self.mqtt_ws_url, "tcp": self.mqtt_tcp_url},
            "restApis": {name: self.rest_api_url(name) for name in self.rest_apis},
            "connections": {
                name: f"{self.base_url}/{gateway.api.stage}"
                for name, gateway in self.gateways.items()
            },
            "region": self.config.region,
            "store": self.store,
            "stackName": self.config.stack_name,
            "dynamodbEndpoint": None if backing is None else backing.endpoint,
            "tables": {logical: t.name for logical, t in self.spec.tables.items()},
            **(self.messaging.info() if self.messaging is not None else {}),
            **(self.s3.info(self.base_url) if self.s3 is not None else {}),
            **self.ses.info(),
        }

    # HTTP APIs ------------------------------------------------------------------------------
    def _http_api_routes(self) -> None:
        """Registered before the host's routes, so a catch-all page of the host never hides an
        API route; :meth:`_taken_paths` keeps the APIs from hiding the host's pages in turn."""
        reserved = self._taken_paths()
        for logical_id, api in self.spec.http_apis.items():
            gateway = HttpApiGateway(
                api,
                self.pools,
                self.config.quotas,
                account_id=self.spec.account_id,
                reserved=reserved,
            )
            gateway.mount(self.app)
            self.http_apis[logical_id] = gateway

    def _rest_api_routes(self) -> None:
        """Each REST API under ``/{stage}``; a stage another API or the server already has moves
        the API under ``/_rest/{logicalId}``, since two REST APIs share no path space on AWS."""
        taken = set(self._taken_paths())
        for logical_id, api in self.spec.rest_apis.items():
            gateway = RestApiGateway(
                api,
                self.pools,
                self.config.quotas,
                account_id=self.spec.account_id,
                reserved=frozenset(taken),
            )
            gateway.mount(self.app)
            self.rest_apis[logical_id] = gateway
            taken.add(api.stage)

    def _taken_paths(self) -> frozenset[str]:
        """First path segments the server already answers: the root page, the runtime's own
        endpoints, each WebSocket stage, and whatever the host mounts (learnt by mounting it on
        a scratch application, which is never started)."""
        taken = {"", "_runtime", "metrics", HTTP_PREFIX.strip("/"), REST_PREFIX.strip("/")}
        taken.update((MQTT_PATH.strip("/"), S3_PATH.split("/")[1]))  # /_aws/...
        taken.update(api.stage for api in self.spec.websocket_apis.values())
        if self.config.mount is not None:
            scratch = web.Application()
            self.config.mount(scratch, self)
            taken.update(
                resource.canonical.split("/")[1] for resource in scratch.router.resources()
            )
        return frozenset(taken)

    def stats(self) -> dict[str, Any]:
        return {
            "functions": {
                name: {
                    "invocations": p.invocations,
                    "errors": p.errors,
                    "coldStarts": p.cold_starts,
                    "timeouts": p.timeouts,
                    "throttles": p.throttles,
                    "workers": p.size,
                }
                for name, p in self.pools.items()
            },
            "gateways": {
                name: {**g.stats, "open": len(g.connections)} for name, g in self.gateways.items()
            },
            "httpApis": {name: api.stats.as_dict() for name, api in self.http_apis.items()},
            "restApis": {name: api.stats.as_dict() for name, api in self.rest_apis.items()},
            "mqtt": {"connected": len(self.iot.broker.live), **self.iot.broker.stats},
            "schedules": [] if self.scheduler is None else self.scheduler.describe(),
            "requestHeads": {
                "timedOut": self.head_guard.timed_out,
                "refused": self.head_guard.refused,
            },
            "streams": {
                p.name: {
                    "batches": p.batches,
                    "deadLettered": p.dead_lettered,
                    "checkpoint": self.state.checkpoint(p.name) if self.state else None,
                }
                for p in self.pollers
            },
            "queues": {} if self.messaging is None else self.messaging.stats(),
        }


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
