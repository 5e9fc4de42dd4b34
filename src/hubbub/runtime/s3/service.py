"""The template's S3 buckets, locally: created in moto, fronted on the runtime's port at
``/_aws/s3`` (``front.py``), and kept on disk under ``{data_dir}/s3`` (``objects.py``).

moto is the runtime's own: the tables' or the queues' embedded server when there is one (moto's
server answers every service on one endpoint), else one started for the buckets. Functions get
``AWS_ENDPOINT_URL_S3`` pointing at the front, which boto3 reads by itself, so the URLs they
presign name the runtime's port: a browser on the same host reaches them, and the page that
hubbub serves there shares their origin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hubbub.runtime.cloudformation import AppSpec
from hubbub.runtime.config import RuntimeConfig, RuntimeStartError
from hubbub.runtime.dynamodb.tables import (
    EmbeddedDynamo,
    endpoint_client,
    shared_or_own_moto,
)
from hubbub.runtime.s3.front import S3_PATH, S3Front
from hubbub.runtime.s3.objects import ObjectFiles

__all__ = ["S3_PATH", "S3Service", "S3Unavailable"]

log = logging.getLogger("hubbub.s3")


class S3Unavailable(RuntimeStartError):
    """The template has buckets and moto cannot be started."""


class S3Service:
    def __init__(
        self,
        spec: AppSpec,
        config: RuntimeConfig,
        key: tuple[str, str],
        now_ms: Callable[[], int],
    ) -> None:
        """Requests must be signed with the runtime's access ``key`` (id, secret); expiries
        are judged on the runtime's clock (``now_ms``), which tests can move."""
        self.spec = spec
        self.region = config.region
        self.credentials = {
            "aws_access_key_id": key[0],
            "aws_secret_access_key": key[1],
            "aws_session_token": "local",
        }
        self.files = ObjectFiles(config.data_dir / "s3")
        self.now: Callable[[], datetime] = lambda: datetime.fromtimestamp(now_ms() / 1000, UTC)
        self.endpoint: str | None = None
        self.embedded: EmbeddedDynamo | None = None
        self.front: S3Front | None = None
        self.restored = 0

    @property
    def needed(self) -> bool:
        return bool(self.spec.buckets)

    async def start(self, shared_endpoint: str | None) -> None:
        """Create the buckets in moto (``shared_endpoint`` or a moto of their own) and put back
        every object kept on disk."""
        if not self.needed:
            return
        endpoint, self.embedded = await shared_or_own_moto(
            shared_endpoint, "the template's buckets", S3Unavailable
        )
        self.endpoint = endpoint
        client = endpoint_client("s3", self.region, self.credentials, endpoint)
        try:
            self.restored = await asyncio.to_thread(self._provision, client)
        except Exception as exc:
            raise S3Unavailable(f"cannot create buckets at {endpoint}: {exc}") from exc
        secrets = {self.credentials["aws_access_key_id"]: self.credentials["aws_secret_access_key"]}
        by_name = {bucket.name: bucket for bucket in self.spec.buckets.values()}
        self.front = S3Front(by_name, self.files, client, secrets, self.now)
        log.info("S3 (moto) at %s, %d objects restored", endpoint, self.restored)

    def _provision(self, client: Any) -> int:
        restored = 0
        for bucket in self.spec.buckets.values():
            existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            if bucket.name not in existing:
                client.create_bucket(Bucket=bucket.name)
            if bucket.cors_rules:
                rules = [_api_cors_rule(rule) for rule in bucket.cors_rules]
                client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
            for stored in self.files.load(bucket.name):
                client.put_object(
                    Bucket=stored.bucket,
                    Key=stored.key,
                    Body=stored.body,
                    ContentType=stored.content_type,
                    Metadata=stored.metadata,
                )
                restored += 1
        return restored

    def mount(self, app: web.Application) -> None:
        """Routes that answer once started (before, a request finds no bucket)."""
        if not self.needed:
            return
        app.router.add_route("*", S3_PATH + "/{bucket}", self._bucket_level)
        app.router.add_route("*", S3_PATH + "/{bucket}/{key:.+}", self._object_level)

    async def _bucket_level(self, request: web.Request) -> web.StreamResponse:
        if self.front is None:
            raise web.HTTPServiceUnavailable()
        return await self.front.bucket_level(request)

    async def _object_level(self, request: web.Request) -> web.StreamResponse:
        if self.front is None:
            raise web.HTTPServiceUnavailable()
        return await self.front.object_level(request)

    def function_env(self, base_url: str) -> dict[str, str]:
        if not self.needed:
            return {}
        return {"AWS_ENDPOINT_URL_S3": f"{base_url}{S3_PATH}"}

    def info(self, base_url: str) -> dict[str, Any]:
        if not self.needed:
            return {}
        return {
            "s3Endpoint": f"{base_url}{S3_PATH}",
            "buckets": {logical: b.name for logical, b in self.spec.buckets.items()},
        }

    async def close(self) -> None:
        if self.front is not None:
            await self.front.close()
        if self.embedded is not None:
            await self.embedded.stop()


_CORS_NAMES = {"Id": "ID", "ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}


def _api_cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A template's CORS rule (CloudFormation's names) as the S3 API spells it."""
    return {_CORS_NAMES.get(name, name): value for name, value in rule.items()}
