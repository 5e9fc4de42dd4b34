"""SAM's CORS on a REST API (``runtime.apigateway.rest.cors``): an OPTIONS method answered by a
mock integration with the template's values; with a Lambda proxy integration the function sets
the CORS headers of its own answers (AWS SAM, "CorsConfiguration" of ``AWS::Serverless::Api``:
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-api-corsconfiguration.html).
"""

from __future__ import annotations

from hubbub.runtime.apigateway.rest.cors import preflight_answer
from hubbub.runtime.cloudformation import RestCorsSpec


def test_the_path_methods_and_options_are_listed_without_allow_methods() -> None:
    answer = preflight_answer(RestCorsSpec(allow_origin="*"), ["GET", "POST"])
    assert answer.status == 200
    assert dict(answer.headers)["Access-Control-Allow-Origin"] == "*"
    assert dict(answer.headers)["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert "Access-Control-Allow-Headers" not in dict(answer.headers)


def test_any_lists_every_method_and_values_are_verbatim() -> None:
    cors = RestCorsSpec(
        allow_origin="https://app.example",
        allow_headers="Content-Type,X-Api-Key",
        max_age="600",
        allow_credentials=True,
    )
    headers = dict(preflight_answer(cors, ["ANY"]).headers)
    assert headers["Access-Control-Allow-Methods"] == "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key"
    assert headers["Access-Control-Max-Age"] == "600"
    assert headers["Access-Control-Allow-Credentials"] == "true"


def test_allow_methods_is_used_as_given() -> None:
    headers = dict(preflight_answer(RestCorsSpec("*", allow_methods="GET"), ["GET", "PUT"]).headers)
    assert headers["Access-Control-Allow-Methods"] == "GET"
