"""HTTP APIs, in SAM's form (``AWS::Serverless::HttpApi`` and the ``HttpApi`` events of functions,
with the implicit API SAM creates for them) and in CloudFormation's (``AWS::ApiGatewayV2::Api`` of
protocol HTTP with its Routes, Integrations and Stage), and their CORS configuration. Route keys
are checked here so a bad one fails at load, not at the first request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.functions import typed_events
from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError, local_api_id
from hubbub.runtime.cloudformation.resources import (
    ByPhysical,
    api_of_event,
    by_physical,
    function_for_uri,
    integration_timeout_s,
    read_sam_apis,
)
from hubbub.runtime.cloudformation.specs import AppSpec, CorsSpec, HttpApiSpec, HttpRouteSpec

__all__ = [
    "HTTP_API_TYPE",
    "HTTP_METHODS",
    "IMPLICIT_HTTP_API",
    "parse_route_key",
    "read_http_apis",
]

HTTP_API_TYPE = "AWS::Serverless::HttpApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
"""The logical id SAM gives the HTTP API it creates for ``HttpApi`` events without an ``ApiId``."""
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
HTTP_TIMEOUT_MS = 30_000
"""The longest ``TimeoutInMillis`` of an HTTP API's integration (and its default)."""


def read_http_apis(app: AppSpec, template: Mapping[str, Any], resolver: Resolver) -> None:
    """Adds every HTTP API to ``app``; its functions must have been read already."""
    _serverless_http_apis(app, template, resolver)
    _cloudformation_http_apis(app, template["Resources"], resolver)


def parse_route_key(key: str, where: str) -> tuple[str, str | None]:
    """(method, path) of an HTTP API route key, refused here rather than at the first request."""
    if key == "$default":
        return "ANY", None
    method, _, path = key.partition(" ")
    method = method.upper()
    if method not in HTTP_METHODS:
        raise TemplateError(f"{where}: route key {key!r} has no HTTP method")
    if not path.startswith("/") or " " in path:
        raise TemplateError(f"{where}: route key {key!r} needs a path starting with /")
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        greedy = segment.startswith("{") and segment.endswith("+}")
        if greedy and index != len(segments) - 1:
            raise TemplateError(f"{where}: greedy {segment} must be the last path segment")
        if ("{" in segment or "}" in segment) and not (
            segment.startswith("{") and segment.endswith("}") and len(segment) > 2
        ):
            raise TemplateError(f"{where}: path segment {segment!r} is not a whole {{variable}}")
    return method, path


def _http_route(
    key: str, function: str, where: str, timeout_s: float | None = None
) -> HttpRouteSpec:
    method, path = parse_route_key(key, where)
    canonical = "$default" if path is None else f"{method} {path}"
    return HttpRouteSpec(
        key=canonical, function=function, method=method, path=path, timeout_s=timeout_s
    )


def _cors(value: Any, where: str) -> CorsSpec | None:
    """SAM accepts ``true``, one origin as a string, or the full object; CloudFormation only the
    object."""
    if value is None or value is False:
        return None
    if value is True:
        return CorsSpec(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    if isinstance(value, str):
        return CorsSpec(allow_origins=(value.strip("'"),))
    if not isinstance(value, Mapping):
        raise TemplateError(f"{where}: CorsConfiguration must be true, a string or an object")

    def strings(name: str) -> tuple[str, ...]:
        items = value.get(name) or ()
        return tuple(str(v) for v in ([items] if isinstance(items, str) else items))

    max_age = value.get("MaxAge")
    return CorsSpec(
        allow_origins=strings("AllowOrigins"),
        allow_methods=tuple(m.upper() for m in strings("AllowMethods")),
        allow_headers=tuple(h.lower() for h in strings("AllowHeaders")),
        expose_headers=tuple(h.lower() for h in strings("ExposeHeaders")),
        allow_credentials=bool(value.get("AllowCredentials", False)),
        max_age_s=None if max_age is None else int(max_age),
    )


def _add_http_route(api: HttpApiSpec, route: HttpRouteSpec, where: str) -> None:
    if route.key in api.routes:
        raise TemplateError(f"{where}: route {route.key!r} is already defined on {api.logical_id}")
    api.routes[route.key] = route


def _serverless_http_apis(app: AppSpec, template: Mapping[str, Any], resolver: Resolver) -> None:
    """SAM's form: ``HttpApi`` function events, on a declared ``AWS::Serverless::HttpApi`` or on
    the implicit ``ServerlessHttpApi`` SAM creates for events without an ``ApiId``."""
    resources: Mapping[str, Any] = template["Resources"]
    globals_api: Mapping[str, Any] = (template.get("Globals") or {}).get("HttpApi") or {}

    def add(logical_id: str, props: dict[str, Any]) -> None:
        app.http_apis[logical_id] = _serverless_http_api(app, logical_id, props)

    by_reference = read_sam_apis(resources, resolver, HTTP_API_TYPE, globals_api, add)

    for logical_id, where, props in typed_events(app, resources, resolver, "HttpApi"):
        api = _event_api(app, props, by_reference, resolver.resolve(globals_api), where)
        if str(props.get("PayloadFormatVersion", "2.0")) != "2.0":
            app.unsupported.append((where, "HTTP API payload format 1.0"))
            continue
        if props.get("Auth"):
            app.unsupported.append((where, "HTTP API route authorizer (not enforced)"))
        key = _event_route_key(props, where)
        timeout_s = integration_timeout_s(props.get("TimeoutInMillis"), where, HTTP_TIMEOUT_MS)
        route = _http_route(key, logical_id, where, timeout_s)
        _add_http_route(api, route, where)


def _event_route_key(props: Mapping[str, Any], where: str) -> str:
    """SAM makes an event without Path and Method the API's ``$default`` route."""
    if "Path" not in props and "Method" not in props:
        return "$default"
    if "Path" not in props or "Method" not in props:
        raise TemplateError(f"{where}: an HttpApi event needs both Path and Method, or neither")
    return f"{str(props['Method']).upper()} {props['Path']}"


def _serverless_http_api(app: AppSpec, logical_id: str, props: Mapping[str, Any]) -> HttpApiSpec:
    if props.get("DefinitionBody") or props.get("DefinitionUri"):
        app.unsupported.append((logical_id, "HTTP API OpenAPI definition (only events are read)"))
    return HttpApiSpec(
        logical_id=logical_id,
        api_id=local_api_id(logical_id),
        stage=str(props.get("StageName") or "$default"),
        routes={},
        cors=_cors(props.get("CorsConfiguration"), logical_id),
    )


def _event_api(
    app: AppSpec,
    props: Mapping[str, Any],
    by_reference: Mapping[str, str],
    globals_api: Mapping[str, Any],
    where: str,
) -> HttpApiSpec:
    return api_of_event(
        app.http_apis,
        props,
        "ApiId",
        by_reference=by_reference,
        kind=HTTP_API_TYPE,
        implicit=(
            IMPLICIT_HTTP_API,
            lambda: _serverless_http_api(app, IMPLICIT_HTTP_API, globals_api),
        ),
        where=where,
    )


def _cloudformation_http_apis(
    app: AppSpec, resources: Mapping[str, Any], resolver: Resolver
) -> None:
    """CloudFormation's form: ``AWS::ApiGatewayV2::Api`` (HTTP) with Route, Integration, Stage
    (only resources whose Condition holds: ``by_physical`` leaves the others out)."""
    apis = by_physical(resources, resolver, "AWS::ApiGatewayV2::Api")
    integrations = by_physical(resources, resolver, "AWS::ApiGatewayV2::Integration")
    routes = by_physical(resources, resolver, "AWS::ApiGatewayV2::Route")
    stages = by_physical(resources, resolver, "AWS::ApiGatewayV2::Stage")
    for api_id, (logical_id, props) in apis.items():
        if props.get("ProtocolType") != "HTTP":
            continue
        stage = next(
            (str(p["StageName"]) for _, p in stages.values() if p.get("ApiId") == api_id),
            "$default",
        )
        api = HttpApiSpec(
            logical_id=logical_id,
            api_id=api_id,
            stage=stage,
            routes={},
            cors=_cors(props.get("CorsConfiguration"), logical_id),
        )
        if props.get("Target"):  # quick create: one $default route to the target function
            target = function_for_uri(app, str(props["Target"]), logical_id)
            _add_http_route(api, _http_route("$default", target, logical_id), logical_id)
        for route_logical, route in routes.values():
            if route.get("ApiId") != api_id:
                continue
            found = _route_function(app, route_logical, route, integrations)
            if found is None:
                continue
            function, timeout_s = found
            if route.get("AuthorizationType", "NONE") != "NONE":
                app.unsupported.append((route_logical, "HTTP API route authorizer (not enforced)"))
            route_spec = _http_route(str(route["RouteKey"]), function, route_logical, timeout_s)
            _add_http_route(api, route_spec, route_logical)
        app.http_apis[logical_id] = api


def _route_function(
    app: AppSpec,
    route_logical: str,
    route: Mapping[str, Any],
    integrations: ByPhysical,
) -> tuple[str, float | None] | None:
    """The function of a route's Lambda integration, and the integration's timeout."""
    target = str(route.get("Target", ""))
    if not target.startswith("integrations/"):
        app.unsupported.append((route_logical, "HTTP API route without a Lambda integration"))
        return None
    found = integrations.get(target.split("/", 1)[1])
    if found is None:
        raise TemplateError(f"{route_logical}: target {target} is not in the template")
    integration_logical, integration = found
    if str(integration.get("PayloadFormatVersion", "1.0")) != "2.0":
        app.unsupported.append((integration_logical, "HTTP API payload format 1.0"))
        return None
    uri = str(integration.get("IntegrationUri", ""))
    timeout_ms = integration.get("TimeoutInMillis")
    return (
        function_for_uri(app, uri, integration_logical),
        integration_timeout_s(timeout_ms, integration_logical, HTTP_TIMEOUT_MS),
    )
