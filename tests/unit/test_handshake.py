"""Where a token travels on the handshake (issue 15, item 10): the Authorization header, a
``Sec-WebSocket-Protocol`` value, or (for older clients) the query string; and which subprotocol
``$connect`` echoes, since a browser drops a connection whose offered subprotocol is not answered
(API Gateway developer guide, "Set up a $connect route that requires a WebSocket subprotocol")."""

from __future__ import annotations

import pytest

from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.handshake import Handshake, read_handshake

T = "eyJ.header.sig"


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ({}, {}, Handshake(None, None)),
        ({"token": T}, {}, Handshake(T, None)),
        ({}, {"Authorization": f"Bearer {T}"}, Handshake(T, None)),
        ({}, {"authorization": f"bearer  {T} "}, Handshake(T, None)),
        ({}, {"Sec-WebSocket-Protocol": f"hubbub.v1, hubbub.token.{T}"}, Handshake(T, "hubbub.v1")),
        ({}, {"sec-websocket-protocol": f"hubbub.token.{T},hubbub.v1"}, Handshake(T, "hubbub.v1")),
        ({}, {"Sec-WebSocket-Protocol": "hubbub.v1"}, Handshake(None, "hubbub.v1")),
        ({"token": T}, {"Authorization": f"Bearer {T}"}, Handshake(T, None)),
        ({}, {"Authorization": ""}, Handshake(None, None)),
        ({"token": ""}, {}, Handshake(None, None)),
    ],
)
def test_the_token_and_the_echoed_subprotocol(
    query: dict[str, str], headers: dict[str, str], expected: Handshake
) -> None:
    assert read_handshake(query, headers) == expected


@pytest.mark.parametrize(
    ("query", "headers", "code"),
    [
        ({}, {"Sec-WebSocket-Protocol": f"hubbub.token.{T}"}, ErrorCode.BAD_REQUEST),
        ({}, {"Sec-WebSocket-Protocol": "chat, superchat"}, ErrorCode.BAD_REQUEST),
        ({}, {"Authorization": f"Basic {T}"}, ErrorCode.UNAUTHORIZED),
        ({}, {"Authorization": "Bearer "}, ErrorCode.UNAUTHORIZED),
        ({"token": "other"}, {"Authorization": f"Bearer {T}"}, ErrorCode.UNAUTHORIZED),
        (
            {},
            {"Sec-WebSocket-Protocol": "hubbub.v1, hubbub.token.a, hubbub.token.b"},
            ErrorCode.UNAUTHORIZED,
        ),
        ({}, {"Sec-WebSocket-Protocol": "hubbub.v1, hubbub.token."}, ErrorCode.UNAUTHORIZED),
    ],
)
def test_a_handshake_that_is_ambiguous_or_malformed_is_refused(
    query: dict[str, str], headers: dict[str, str], code: ErrorCode
) -> None:
    with pytest.raises(ProtocolError) as refused:
        read_handshake(query, headers)
    assert refused.value.code is code


def test_the_response_headers_name_the_subprotocol_and_never_the_token() -> None:
    handshake = read_handshake({}, {"Sec-WebSocket-Protocol": f"hubbub.v1, hubbub.token.{T}"})
    assert handshake.response_headers() == {"Sec-WebSocket-Protocol": "hubbub.v1"}
    assert read_handshake({}, {}).response_headers() == {}
