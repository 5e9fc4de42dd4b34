"""CORS preflights and response headers (``runtime.apigateway.http.cors``)."""

from __future__ import annotations

import pytest

from hubbub.runtime.apigateway.http.cors import cors_headers, is_preflight, preflight_response
from hubbub.runtime.apigateway.http.responses import map_response
from hubbub.runtime.cloudformation import CorsSpec

CORS = CorsSpec(
    allow_origins=("https://app.example.com", "http://*"),
    allow_methods=("GET", "POST"),
    allow_headers=("content-type", "x-custom"),
    expose_headers=("x-probe",),
    allow_credentials=True,
    max_age_s=600,
)


def test_preflight_needs_origin_and_requested_method() -> None:
    assert is_preflight("OPTIONS", {"Origin": "o", "Access-Control-Request-Method": "GET"})
    assert not is_preflight("OPTIONS", {"Origin": "o"})
    assert not is_preflight("GET", {"Origin": "o", "Access-Control-Request-Method": "GET"})


@pytest.mark.parametrize("origin", ["https://app.example.com", "http://localhost:5173"])
def test_an_allowed_preflight_gets_the_configured_headers(origin: str) -> None:
    result = preflight_response(CORS, origin, "POST")
    assert result.status == 204
    assert dict(result.headers) == {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "content-type,x-custom",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }


@pytest.mark.parametrize(
    ("origin", "method"), [("https://evil.example", "GET"), ("https://app.example.com", "DELETE")]
)
def test_a_refused_preflight_gets_no_cors_headers(origin: str, method: str) -> None:
    result = preflight_response(CORS, origin, method)
    assert (result.status, result.headers) == (204, ())


def test_a_wildcard_origin_answers_star() -> None:
    result = preflight_response(CorsSpec(allow_origins=("*",), allow_methods=("*",)), "x", "PUT")
    assert dict(result.headers)["access-control-allow-origin"] == "*"


def test_cors_headers_replace_the_functions_own() -> None:
    answered = map_response(
        {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*", "x-probe": "1"}}
    )
    allowed = dict(cors_headers(answered, CORS, "https://app.example.com").headers)
    assert allowed["access-control-allow-origin"] == "https://app.example.com"
    assert allowed["access-control-expose-headers"] == "x-probe"
    assert "Access-Control-Allow-Origin" not in allowed
    refused = dict(cors_headers(answered, CORS, "https://evil.example").headers)
    assert not any(name.lower().startswith("access-control-") for name in refused)
