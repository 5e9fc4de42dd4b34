"""A bucket's CORS rules (``s3.cors``), row by row.

AWS: *Using cross-origin resource sharing (CORS)*
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html): the first matching rule
answers; origins and headers may hold one ``*``; a preflight no rule allows is refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.runtime.s3.cors import cors_headers

RULES: list[dict[str, Any]] = [
    {
        "AllowedOrigins": ["https://chat.example.com", "https://*.example.org"],
        "AllowedMethods": ["GET", "POST"],
        "AllowedHeaders": ["content-type", "x-amz-*"],
        "MaxAge": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": []},
]


@pytest.mark.parametrize(
    ("origin", "method", "headers", "allow_origin"),
    [
        pytest.param(
            "https://chat.example.com",
            "POST",
            ["Content-Type"],
            "https://chat.example.com",
            id="exact origin",
        ),
        pytest.param(
            "https://a.example.org",
            "POST",
            ["x-amz-date"],
            "https://a.example.org",
            id="wildcard origin and header",
        ),
        pytest.param("https://evil.test", "POST", [], None, id="an origin no POST rule names"),
        pytest.param("https://evil.test", "GET", [], "*", id="the any-origin GET rule"),
        pytest.param("https://chat.example.com", "PUT", [], None, id="a method no rule allows"),
        pytest.param(
            "https://chat.example.com", "POST", ["authorization"], None, id="a header not allowed"
        ),
    ],
)
def test_preflights(origin: str, method: str, headers: list[str], allow_origin: str | None) -> None:
    answer = cors_headers(RULES, origin, method, headers, preflight=True)
    assert (answer or {}).get("Access-Control-Allow-Origin") == allow_origin


def test_a_preflight_answer_names_the_headers_and_max_age() -> None:
    answer = cors_headers(
        RULES, "https://chat.example.com", "POST", ["content-type"], preflight=True
    )
    assert answer is not None
    assert answer["Access-Control-Allow-Headers"] == "content-type"
    assert answer["Access-Control-Max-Age"] == "600"
    assert answer["Access-Control-Allow-Methods"] == "GET, POST"


def test_no_rules_allow_nothing() -> None:
    assert cors_headers([], "https://chat.example.com", "GET") is None
