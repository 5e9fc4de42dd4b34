"""Where the queues and topics live (``sqs.service.MessagingService``) when moto is missing: a
template that only names a queue (an on-failure destination, like hubbub's own) still starts;
one whose functions are fed by a queue cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation import load_app
from hubbub.runtime.dynamodb.tables import EmbeddedDynamo
from hubbub.runtime.sqs.service import MessagingService, MessagingUnavailable
from hubbub.servedefaults import LOCAL_PARAMETERS
from tests.unit.runtime.cloudformation.builders import TEMPLATE, fn, write

CREDENTIALS = {"aws_access_key_id": "AKIALOCALX", "aws_secret_access_key": "x"}


@pytest.fixture
def no_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EmbeddedDynamo, "missing_packages", staticmethod(lambda: ["moto"]))


async def test_a_destination_queue_without_moto_starts_without_queues(no_moto: None) -> None:
    """hubbub's template as ``hubbub serve`` runs it (no chunk queue: ``servedefaults``)."""
    spec = load_app(TEMPLATE, parameter_overrides=LOCAL_PARAMETERS)
    service = MessagingService(spec, region="us-east-1", credentials=CREDENTIALS)
    await service.start()
    assert service.endpoint is None
    assert service.function_env() == {}
    assert not service.can_send
    with pytest.raises(LookupError):
        service.send_on_failure("arn:aws:sqs:us-east-1:123456789012:dlq", {})


async def test_a_queue_event_source_without_moto_refuses_to_start(
    no_moto: None, tmp_path: Path
) -> None:
    queue_arn: dict[str, Any] = {"Fn::GetAtt": ["Jobs", "Arn"]}
    spec = load_app(
        write(
            tmp_path,
            {
                "Jobs": {"Type": "AWS::SQS::Queue"},
                "Worker": fn(Events={"Jobs": {"Type": "SQS", "Properties": {"Queue": queue_arn}}}),
            },
        )
    )
    service = MessagingService(spec, region="us-east-1", credentials=CREDENTIALS)
    with pytest.raises(MessagingUnavailable, match="moto"):
        await service.start()
    await service.close()


async def test_a_template_without_queues_needs_nothing(tmp_path: Path) -> None:
    service = MessagingService(
        load_app(write(tmp_path, {"Worker": fn()})), region="us-east-1", credentials=CREDENTIALS
    )
    await service.start()
    assert not service.needed
    assert service.endpoint is None
