"""Email to visitors who left (``chat/mailing.py``): the mailing service and its sender.

Operators' new answers in desk topics are noted as pending mails by the relay function
(``relay.py``), a consumer of the table's stream. ``send_handler`` runs on a schedule (every
minute) and sends what is due through SES. The same code runs locally, where the runtime feeds
the same stream and schedule and emulates SES behind ``AWS_ENDPOINT_URL_SES``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from hubbub.chat.mailing import Mailing, MailSettings
from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import MetricUnit, metrics
from hubbub.mail.ses import SesMailer

__all__ = ["mail_sender", "mailing", "send_handler", "use_mailing"]


def mail_sender(env: Mapping[str, str]) -> str:
    """The stack's ``MailSender`` (empty: it sends no email, and queues none)."""
    return env.get("MAIL_SENDER", "")


class _Warm:
    mailing: Mailing | None = None


def mailing() -> Mailing:
    """The environment's mailing service, over the chat's store, clock and token signer."""
    if _Warm.mailing is None:
        service = chat()
        store = service.store
        _Warm.mailing = Mailing(
            mailings=store,
            directory=store,
            subscriptions=store,
            messages=store,
            markers=store,
            mailer=SesMailer(mail_sender(os.environ)),
            tokens=service.tokens,
            clock=service.clock,
            settings=MailSettings.from_env(os.environ),
        )
    return _Warm.mailing


def use_mailing(service: Mailing | None) -> None:
    """Make ``service`` the one the handlers use (tests); None builds one on next use."""
    _Warm.mailing = service


@metrics.log_metrics
def send_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The scheduled run: send the due mails; a failed one is retried by a later run."""
    report = mailing().send_due()
    metrics.add_metric(name="MailsSent", unit=MetricUnit.Count, value=report.sent)
    if report.failed:
        metrics.add_metric(name="MailsFailed", unit=MetricUnit.Count, value=report.failed)
    return asdict(report)
