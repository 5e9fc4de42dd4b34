"""The template's SQS queues and SNS topics, served by moto, whatever backs the tables.

moto's server answers every service on one endpoint, so when the tables already live in the
runtime's embedded moto the queues and topics join them there; otherwise (``--store sqlite``,
or tables at ``--dynamodb-endpoint``) a moto of their own is started. Functions are handed the
endpoint as ``AWS_ENDPOINT_URL_SQS`` and ``AWS_ENDPOINT_URL_SNS``, which boto3 reads on its own,
and the host sees it at start-up and in ``/_runtime/info``. Queue URLs keep their AWS shape
(``https://sqs.{region}.amazonaws.com/{account}/{name}``): boto3 sends them to the endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from hubbub.runtime.cloudformation import AppSpec
from hubbub.runtime.dynamodb.tables import (
    EmbeddedDynamo,
    endpoint_client,
    shared_or_own_moto,
)
from hubbub.runtime.lambda_.pool import FunctionPool
from hubbub.runtime.sqs.poller import Consumer, QueuePoller
from hubbub.runtime.sqs.resources import Destinations, Messaging, provision_messaging

__all__ = ["MessagingService", "MessagingUnavailable"]

log = logging.getLogger("hubbub.sqs")


class MessagingUnavailable(RuntimeError):
    """The template's event sources need queues and moto is not installed, or moto refused."""


class MessagingService:
    def __init__(self, spec: AppSpec, *, region: str, credentials: Mapping[str, str]) -> None:
        self.spec = spec
        self.region = region
        self.credentials = dict(credentials)
        self.endpoint: str | None = None
        self.embedded: EmbeddedDynamo | None = None
        self.messaging = Messaging()
        self.pollers: list[QueuePoller] = []
        self._sqs: Any = None
        self._sns: Any = None
        self._destinations: Destinations | None = None

    @property
    def needed(self) -> bool:
        return bool(self.spec.queues or self.spec.topics)

    @property
    def essential(self) -> bool:
        """Functions are fed from the queues (not only the on-failure destination)."""
        return bool(self.spec.queue_mappings or self.spec.subscriptions)

    async def start(self, shared_endpoint: str | None = None) -> None:
        """Create the queues and topics at ``shared_endpoint`` (the tables' embedded moto) or
        in a moto of their own. Without moto, a template whose functions are fed by queues
        cannot start; one that only names a queue (an on-failure destination) starts without
        it, and says so."""
        if not self.needed:
            return
        missing = EmbeddedDynamo.missing_packages()
        if shared_endpoint is None and missing and not self.essential:
            log.warning(
                "queues and topics are not emulated (install moto[server]: missing %s);"
                " on-failure records stay in the local dead-letter table",
                ", ".join(missing),
            )
            return
        endpoint, self.embedded = await shared_or_own_moto(
            shared_endpoint, "the template's queues and topics", MessagingUnavailable
        )
        self.endpoint = endpoint
        self._sqs = self._client("sqs")
        self._sns = self._client("sns")
        try:
            self.messaging = await asyncio.to_thread(
                provision_messaging, self._sqs, self._sns, self.spec
            )
        except Exception as exc:
            message = f"cannot create queues and topics at {endpoint}: {exc}"
            raise MessagingUnavailable(message) from exc
        self._destinations = Destinations(self._sqs, self._sns, self.messaging)
        log.info("SQS and SNS (moto) at %s", endpoint)

    def _client(self, service: str) -> Any:
        return endpoint_client(service, self.region, self.credentials, self.endpoint)

    def function_env(self) -> dict[str, str]:
        if self.endpoint is None:
            return {}
        return {"AWS_ENDPOINT_URL_SQS": self.endpoint, "AWS_ENDPOINT_URL_SNS": self.endpoint}

    def send_on_failure(self, arn: str, document: Mapping[str, Any]) -> None:
        """Blocking: deliver a stream mapping's invocation record to its destination."""
        if self._destinations is None:
            raise LookupError(f"queues and topics are not emulated: cannot send to {arn}")
        self._destinations.send(arn, document)

    @property
    def can_send(self) -> bool:
        return self._destinations is not None

    @property
    def sender(self) -> Callable[[str, Mapping[str, Any]], None] | None:
        """``send_on_failure`` when there are queues to send to, else None."""
        return self.send_on_failure if self.can_send else None

    def start_pollers(
        self, pools: Mapping[str, FunctionPool], *, max_workers: int, poll_interval_s: float
    ) -> None:
        """Make and start the pollers of the SQS event sources and of the functions' topics."""
        for poller in self.make_pollers(
            pools, max_workers=max_workers, poll_interval_s=poll_interval_s, paused=lambda: False
        ):
            poller.start()

    def make_pollers(
        self,
        pools: Mapping[str, FunctionPool],
        *,
        max_workers: int,
        poll_interval_s: float,
        paused: Callable[[], bool],
    ) -> list[QueuePoller]:
        if self.endpoint is None:
            return []
        for mapping in self.spec.queue_mappings:
            queue = self.messaging.queues[mapping.queue]
            consumer = Consumer(
                name=mapping.name,
                queue_url=queue.url,
                queue_arn=queue.arn,
                batch_size=mapping.batch_size,
                window_s=mapping.maximum_batching_window_s,
                report_failures=mapping.report_batch_item_failures,
                filters=mapping.filters,
                concurrency=min(max_workers, mapping.maximum_concurrency or max_workers),
                enabled=mapping.enabled,
            )
            self.pollers.append(
                self._poller(consumer, pools[mapping.function], poll_interval_s, paused)
            )
        for sub in self.messaging.lambda_subscriptions:
            consumer = Consumer(
                name=sub.spec.name,
                queue_url=sub.queue.url,
                queue_arn=sub.queue.arn,
                batch_size=1,
                concurrency=max_workers,
                subscription_arn=sub.subscription_arn,
            )
            self.pollers.append(
                self._poller(consumer, pools[sub.spec.endpoint], poll_interval_s, paused)
            )
        return self.pollers

    def _poller(
        self,
        consumer: Consumer,
        pool: FunctionPool,
        poll_interval_s: float,
        paused: Callable[[], bool],
    ) -> QueuePoller:
        return QueuePoller(
            consumer,
            self._sqs,
            pool,
            region=self.region,
            poll_interval_s=poll_interval_s,
            paused=paused,
        )

    def poke(self) -> None:
        for poller in self.pollers:
            poller.poke()

    async def stop_pollers(self) -> None:
        for poller in self.pollers:
            await poller.stop()

    async def close(self) -> None:
        """Stop the pollers and the moto of the queues' own, if they had one."""
        await self.stop_pollers()
        if self.embedded is not None:
            await self.embedded.stop()

    def stats(self) -> dict[str, Any]:
        return {
            q.consumer.name: {
                "batches": q.batches,
                "deleted": q.deleted,
                "filtered": q.filtered,
                "failed": q.failed,
            }
            for q in self.pollers
        }

    def info(self) -> dict[str, Any]:
        return {
            "sqsEndpoint": self.endpoint,
            "snsEndpoint": self.endpoint,
            "queues": {k: q.url for k, q in self.messaging.queues.items()},
            "topics": dict(self.messaging.topics),
        }
