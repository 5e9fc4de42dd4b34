"""REST APIs in SAM's form: ``AWS::Serverless::Api`` and the ``Api`` events of functions, with the
implicit ``ServerlessRestApi`` SAM creates (stage ``Prod``) for events without a ``RestApiId``.
Every event is a Lambda proxy method (payload format 1.0). A REST API written out in
CloudFormation (``AWS::ApiGateway::RestApi`` with its Resources and Methods) is not read: it is
listed as not emulated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.functions import typed_events
from hubbub.runtime.cloudformation.httpapi import parse_route_key
from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError, local_api_id
from hubbub.runtime.cloudformation.resources import (
    api_of_event,
    integration_timeout_s,
    read_sam_apis,
)
from hubbub.runtime.cloudformation.specs import AppSpec, HttpRouteSpec, RestApiSpec, RestCorsSpec

__all__ = ["IMPLICIT_REST_API", "IMPLICIT_REST_STAGE", "REST_API_TYPE", "read_rest_apis"]

REST_API_TYPE = "AWS::Serverless::Api"
IMPLICIT_REST_API = "ServerlessRestApi"
IMPLICIT_REST_STAGE = "Prod"
"""SAM's implicit REST API is deployed to a stage named ``Prod`` (and a ``Stage`` one, which
SAM no longer creates by default)."""
REST_TIMEOUT_MS = 29_000
"""The longest ``TimeoutInMillis`` of a REST API method's integration (and its default)."""


def read_rest_apis(app: AppSpec, template: Mapping[str, Any], resolver: Resolver) -> None:
    """Adds every REST API to ``app``; its functions must have been read already."""
    resources: Mapping[str, Any] = template["Resources"]
    globals_api: Mapping[str, Any] = (template.get("Globals") or {}).get("Api") or {}

    def add(logical_id: str, props: dict[str, Any]) -> None:
        app.rest_apis[logical_id] = _rest_api(app, logical_id, props)

    by_reference = read_sam_apis(resources, resolver, REST_API_TYPE, globals_api, add)
    for logical_id, where, props in typed_events(app, resources, resolver, "Api"):
        api = _event_api(app, props, by_reference, resolver.resolve(globals_api), where)
        if props.get("Auth"):
            app.unsupported.append((where, "REST API method authorizer (not enforced)"))
        route = _rest_route(props, logical_id, where)
        if route.key in api.routes:
            raise TemplateError(
                f"{where}: method {route.key!r} is already defined on {api.logical_id}"
            )
        api.routes[route.key] = route


def _rest_route(props: Mapping[str, Any], function: str, where: str) -> HttpRouteSpec:
    if "Path" not in props or "Method" not in props:
        raise TemplateError(f"{where}: an Api event needs a Path and a Method")
    method, path = parse_route_key(f"{str(props['Method']).upper()} {props['Path']}", where)
    assert path is not None
    timeout_s = integration_timeout_s(props.get("TimeoutInMillis"), where, REST_TIMEOUT_MS)
    return HttpRouteSpec(
        key=f"{method} {path}", function=function, method=method, path=path, timeout_s=timeout_s
    )


def _rest_api(app: AppSpec, logical_id: str, props: Mapping[str, Any]) -> RestApiSpec:
    if props.get("DefinitionBody") or props.get("DefinitionUri"):
        app.unsupported.append((logical_id, "REST API OpenAPI definition (only events are read)"))
    auth = props.get("Auth") or {}
    if auth.get("Authorizers") or auth.get("DefaultAuthorizer"):
        app.unsupported.append((logical_id, "REST API authorizers (not enforced)"))
    stage = str(props.get("StageName") or IMPLICIT_REST_STAGE)
    variables = props.get("Variables") or {}
    if not isinstance(variables, Mapping):
        raise TemplateError(f"{logical_id}: Variables must be a map of stage variables")
    binary = props.get("BinaryMediaTypes") or []
    return RestApiSpec(
        logical_id=logical_id,
        api_id=local_api_id(logical_id),
        stage=stage,
        routes={},
        cors=_cors(props.get("Cors"), logical_id),
        stage_variables={str(k): str(v) for k, v in variables.items()},
        binary_media_types=tuple(str(t).replace("~1", "/").lower() for t in binary),
    )


def _unquote(value: Any) -> str:
    """SAM's Cors values are header values in single quotes: ``"'GET,POST'"``."""
    text = str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    return text


def _cors(value: Any, where: str) -> RestCorsSpec | None:
    """``Cors: "'https://example.com'"`` (the origin alone) or the object form."""
    if value is None:
        return None
    if isinstance(value, str):
        return RestCorsSpec(allow_origin=_unquote(value))
    if not isinstance(value, Mapping) or "AllowOrigin" not in value:
        raise TemplateError(f"{where}: Cors must be an origin string or an object with AllowOrigin")

    def optional(name: str) -> str | None:
        return None if value.get(name) is None else _unquote(value[name])

    return RestCorsSpec(
        allow_origin=_unquote(value["AllowOrigin"]),
        allow_methods=optional("AllowMethods"),
        allow_headers=optional("AllowHeaders"),
        max_age=optional("MaxAge"),
        allow_credentials=bool(value.get("AllowCredentials", False)),
    )


def _event_api(
    app: AppSpec,
    props: Mapping[str, Any],
    by_reference: Mapping[str, str],
    globals_api: Mapping[str, Any],
    where: str,
) -> RestApiSpec:
    implicit = {**globals_api, "StageName": IMPLICIT_REST_STAGE}
    return api_of_event(
        app.rest_apis,
        props,
        "RestApiId",
        by_reference=by_reference,
        kind=REST_API_TYPE,
        implicit=(IMPLICIT_REST_API, lambda: _rest_api(app, IMPLICIT_REST_API, implicit)),
        where=where,
    )
