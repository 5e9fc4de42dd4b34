"""The payload format 1.0 event a REST API's Lambda proxy integration hands its function, built
key for key as AWS does (and checked against Powertools' ``APIGatewayProxyEventModel``).

Unlike format 2.0: header names keep the client's case, repeated headers and query parameters
show their last value in the single-value maps and all of them in the ``multiValue`` ones, absent
maps and bodies are ``null``, and a body is base64 only when its type is one of the API's
``BinaryMediaTypes``.
"""

from __future__ import annotations

import base64
import urllib.parse
import uuid
from collections.abc import Iterable
from typing import Any

from hubbub.runtime.apigateway.events import fold_repeated, request_time
from hubbub.runtime.apigateway.http.events import HttpRequest
from hubbub.runtime.apigateway.http.routing import RouteMatch
from hubbub.runtime.cloudformation import RestApiSpec
from hubbub.runtime.cloudformation.intrinsics import local_api_id

__all__ = ["build_rest_event", "is_binary", "rest_request_id"]

_REQUEST_IDS = uuid.UUID("5f0c7a52-0d5e-4f8e-9b4b-6d2b3c1e2a10")


def rest_request_id(extended_request_id: str) -> str:
    """A REST API's ``requestId`` is a UUID beside the short ``extendedRequestId``; derived from
    it so the event and the ``x-amzn-RequestId`` response header agree."""
    return str(uuid.uuid5(_REQUEST_IDS, extended_request_id))


def is_binary(content_type: str | None, binary_media_types: Iterable[str]) -> bool:
    """Whether a media type is one of the API's binary types (``image/*`` and ``*/*`` match as
    API Gateway matches them)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    major = media.split("/", 1)[0]
    return any(t in (media, "*/*", f"{major}/*") for t in binary_media_types)


def _body(api: RestApiSpec, request: HttpRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = request.header("content-type")
    if is_binary(content_type, api.binary_media_types):
        return base64.b64encode(request.body).decode("ascii"), True
    return request.body.decode("utf-8", errors="replace"), False


def build_rest_event(
    api: RestApiSpec,
    match: RouteMatch,
    request: HttpRequest,
    *,
    account_id: str,
    extended_request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The format 1.0 event, key for key; ``path`` is below the stage, the request context's
    ``path`` includes it."""
    assert match.route.path is not None
    headers, multi_headers = fold_repeated(request.headers)
    query = urllib.parse.parse_qsl(request.raw_query, keep_blank_values=True)
    single_query, multi_query = fold_repeated(query)
    path = request.raw_path[len(api.stage) + 1 :] or "/"
    body, is_base64 = _body(api, request)
    return {
        "resource": match.route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(match.path_parameters) or None,
        "stageVariables": dict(api.stage_variables) or None,
        "requestContext": _request_context(
            api, match, request, account_id, extended_request_id, now_ms
        ),
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _identity(request: HttpRequest) -> dict[str, Any]:
    user_agent = request.header("user-agent")
    return {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": request.source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": user_agent,
        "user": None,
    }


def _request_context(
    api: RestApiSpec,
    match: RouteMatch,
    request: HttpRequest,
    account_id: str,
    extended_request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    host = request.domain_name.rsplit(":", 1)[0]
    resource_path = match.route.path
    assert resource_path is not None
    return {
        "resourceId": local_api_id(f"{api.logical_id} {resource_path}")[:6],
        "resourcePath": resource_path,
        "httpMethod": request.method,
        "extendedRequestId": extended_request_id,
        "requestTime": request_time(now_ms),
        "path": request.raw_path,
        "accountId": account_id,
        "protocol": request.protocol,
        "stage": api.stage,
        "domainPrefix": host.split(".", 1)[0],
        "requestTimeEpoch": now_ms,
        "requestId": rest_request_id(extended_request_id),
        "identity": _identity(request),
        "domainName": request.domain_name,
        "apiId": api.api_id,
    }
