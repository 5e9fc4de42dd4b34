"""Amazon SES for the template's functions, served by moto behind a recorder.

Functions reach SES at ``{runtime}/_aws/ses``, handed to them as the standard
``AWS_ENDPOINT_URL_SES`` (boto3 reads it by itself). Each request's SigV4 signature is checked
with the runtime's credentials (service name ``ses``), then passed unchanged to moto's SES in
the moto server the queues use (one of its own when the template has none), which validates it
and answers as SES does: a sender that is not a verified identity is ``MessageRejected``. Every
send moto accepts is appended to ``DATA_DIR/ses-sent.jsonl`` before the answer goes back, so
the emails outlive the server and ``hubbub mail`` prints them. The template's
``AWS::SES::EmailIdentity`` resources are verified in moto at start, as a deployed stack's
would be once their owners click the link SES mails them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from hubbub.runtime.cloudformation import AppSpec
from hubbub.runtime.config import RuntimeStartError
from hubbub.runtime.dynamodb.tables import (
    EmbeddedDynamo,
    endpoint_client,
    shared_or_own_moto,
)
from hubbub.runtime.ses.outbox import OUTBOX_NAME, append_sent
from hubbub.runtime.ses.relay import RelayTarget, relay, relay_target
from hubbub.runtime.ses.requests import SENDS, SentMail, action_of, form_of, sent_mail
from hubbub.runtime.sigv4 import SignatureRejected, SigV4Verifier

__all__ = ["SES_PATH", "SesService", "SesUnavailable"]

log = logging.getLogger("hubbub.ses")

SES_PATH = "/_aws/ses"
_FORWARDED = ("authorization", "content-type", "x-amz-date", "x-amz-security-token", "user-agent")
_MESSAGE_ID = re.compile(r"<MessageId>([^<]+)</MessageId>")


class SesUnavailable(RuntimeStartError):
    """The template sends email and moto's server cannot be started."""


def _error(status: int, code: str, message: str) -> web.Response:
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>local</RequestId></ErrorResponse>"
    )
    return web.Response(status=status, text=body, content_type="text/xml")


class SesService:
    def __init__(self, spec: AppSpec, *, data_dir: Path, region: str, key: tuple[str, str]) -> None:
        self.spec = spec
        self.data_dir = data_dir
        self.region = region
        self._key = key
        self._verifier = SigV4Verifier({key[0]: key[1]}, "ses")
        self.endpoint: str | None = None
        self.embedded: EmbeddedDynamo | None = None
        self._session: ClientSession | None = None
        self.sent = 0
        self.relay: RelayTarget | None = None  # docs/operations.md: a real SMTP server
        self._relaying: set[asyncio.Task[None]] = set()

    @property
    def needed(self) -> bool:
        return bool(self.spec.email_identities)

    async def start(self, shared_endpoint: str | None) -> None:
        """Verify the template's identities in moto (``shared_endpoint``, else a moto of its
        own); nothing happens for a template that sends no email."""
        if not self.needed:
            return
        try:
            self.relay = relay_target(os.environ)
        except ValueError as exc:
            raise SesUnavailable(str(exc)) from None
        endpoint, self.embedded = await shared_or_own_moto(
            shared_endpoint, "the template's email identities", SesUnavailable
        )
        self.endpoint = endpoint
        credentials = {
            "aws_access_key_id": self._key[0],
            "aws_secret_access_key": self._key[1],
            "aws_session_token": "local",
        }
        client = endpoint_client("ses", self.region, credentials, endpoint)
        for spec in self.spec.email_identities.values():
            if "@" in spec.identity:
                await asyncio.to_thread(client.verify_email_identity, EmailAddress=spec.identity)
            else:
                await asyncio.to_thread(client.verify_domain_identity, Domain=spec.identity)
        self._session = ClientSession(timeout=ClientTimeout(total=30))
        log.info("SES (moto) behind %s", SES_PATH)

    def mount(self, app: web.Application) -> None:
        if self.needed:
            app.router.add_post(SES_PATH, self._handle)
            app.router.add_post(SES_PATH + "/", self._handle)

    def function_env(self, base_url: str) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL_SES": base_url + SES_PATH} if self.needed else {}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            await self._verifier.verify_request(request)
        except SignatureRejected as exc:
            log.info("SES request refused: %s", exc)
            return _error(403, "SignatureDoesNotMatch", "The request signature is not valid.")
        if self._session is None or self.endpoint is None:
            return _error(503, "ServiceUnavailable", "SES is not started.")
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED}
        async with self._session.post(self.endpoint + "/", data=body, headers=headers) as answer:
            payload = await answer.read()
            status, content_type = answer.status, answer.content_type
        form = form_of(body)
        if status == 200 and action_of(form) in SENDS:
            found = _MESSAGE_ID.search(payload.decode("utf-8", "replace"))
            mail = sent_mail(form, found.group(1) if found else "", int(time.time() * 1000))
            if mail is not None:
                await asyncio.to_thread(append_sent, self.data_dir, mail)
                self.sent += 1
                log.info("SES accepted email %s (%s)", mail.message_id, OUTBOX_NAME)
                if self.relay is not None:
                    task = asyncio.create_task(self._relay(mail))
                    self._relaying.add(task)
                    task.add_done_callback(self._relaying.discard)
        return web.Response(status=status, body=payload, content_type=content_type)

    async def _relay(self, mail: SentMail) -> None:
        assert self.relay is not None
        try:
            await asyncio.to_thread(relay, mail, self.relay)
        except Exception as exc:  # kept in the outbox either way
            log.warning("relaying email %s failed: %s", mail.message_id, type(exc).__name__)
        else:
            log.info("email %s relayed to %s:%d", mail.message_id, self.relay.host, self.relay.port)

    async def close(self) -> None:
        if self._relaying:
            await asyncio.wait(set(self._relaying), timeout=15)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.embedded is not None:
            await self.embedded.stop()
            self.embedded = None

    def info(self) -> dict[str, Any]:
        if not self.needed:
            return {}
        return {
            "sesEndpoint": SES_PATH,
            "sesIdentities": [s.identity for s in self.spec.email_identities.values()],
            "sentMail": str(self.data_dir / OUTBOX_NAME),
            "sesSent": self.sent,
        }
