"""Identifier shapes (``runtime.awsids``).

AWS: the WebSocket events API Gateway delivers (as captured in Powertools' test events and in
*Setting up a WebSocket API integration request*): ``connectionId`` like ``BFHPhfCWIAMCKlQ=``,
``requestId`` equal to ``extendedRequestId``; Lambda developer guide, *Defined runtime environment
variables*: ``AWS_LAMBDA_LOG_STREAM_NAME`` and the ``_X_AMZN_TRACE_ID`` X-Ray header.
"""

from __future__ import annotations

import base64
import re

import pytest

from hubbub.runtime.awsids import (
    connection_id,
    extended_request_id,
    log_stream_name,
    request_id,
    trace_header,
)


@pytest.mark.parametrize("make", [connection_id, extended_request_id])
def test_api_gateway_ids_are_sixteen_characters_ending_in_one_equals(make: object) -> None:
    assert callable(make)
    for _ in range(200):
        value = make()
        assert len(value) == 16
        assert value.endswith("=") and not value.endswith("==")
        assert len(base64.urlsafe_b64decode(value)) == 11
        assert "/" not in value and "+" not in value


def test_lambda_request_ids_are_uuids() -> None:
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", request_id()
    )


def test_the_log_stream_name_is_dated_and_names_the_version() -> None:
    # 2026-12-06 00:00:00 UTC
    assert re.fullmatch(r"2026/12/06/\[\$LATEST\][0-9a-f]{32}", log_stream_name(1796515200.0))


def test_the_trace_header_has_root_parent_sampled_and_lineage() -> None:
    header = trace_header(1796515200.0)
    assert re.fullmatch(
        r"Root=1-6b14a580-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=1:[0-9a-f]{8}:0",
        header,
    ), header
