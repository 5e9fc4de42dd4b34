"""WebSocket APIs: ``AWS::ApiGatewayV2::Api`` of protocol WEBSOCKET with its Routes, their
Integrations, REQUEST Authorizers and RouteResponses, and the Stage it is served on. SAM has no
WebSocket shorthand, so this is CloudFormation's form only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.resources import (
    ByPhysical,
    by_physical,
    function_for_uri,
    integration_timeout_s,
)
from hubbub.runtime.cloudformation.specs import (
    AppSpec,
    AuthorizerSpec,
    RouteSpec,
    WebSocketApiSpec,
)

__all__ = ["read_websocket_apis"]


def read_websocket_apis(app: AppSpec, resources: Mapping[str, Any], resolver: Resolver) -> None:
    """Adds every WebSocket API to ``app``; its functions must have been read already."""
    apis = by_physical(resources, resolver, "AWS::ApiGatewayV2::Api")
    integrations = by_physical(resources, resolver, "AWS::ApiGatewayV2::Integration")
    routes = by_physical(resources, resolver, "AWS::ApiGatewayV2::Route")
    authorizers = by_physical(resources, resolver, "AWS::ApiGatewayV2::Authorizer")
    stages = by_physical(resources, resolver, "AWS::ApiGatewayV2::Stage")
    responses = by_physical(resources, resolver, "AWS::ApiGatewayV2::RouteResponse")
    routes_with_response = {props.get("RouteId") for _, props in responses.values()}

    for api_id, (logical_id, props) in apis.items():
        if props.get("ProtocolType") != "WEBSOCKET":
            continue
        stage = next(
            (str(p["StageName"]) for _, p in stages.values() if p.get("ApiId") == api_id), "local"
        )
        spec = WebSocketApiSpec(
            logical_id=logical_id,
            api_id=api_id,
            selection_expression=str(props.get("RouteSelectionExpression", "$request.body.action")),
            stage=stage,
            routes={},
        )
        for route_id, (route_logical, route) in routes.items():
            if route.get("ApiId") != api_id:
                continue
            spec.routes[str(route["RouteKey"])] = _route(
                app,
                route_logical,
                route,
                integrations,
                authorizers,
                route_id in routes_with_response,
            )
        app.websocket_apis[logical_id] = spec


def _route(
    app: AppSpec,
    route_logical: str,
    route: Mapping[str, Any],
    integrations: ByPhysical,
    authorizers: ByPhysical,
    has_route_response: bool,
) -> RouteSpec:
    """A route is served even when its authorization is not emulated, and listed as such."""
    function, timeout_s = _integration(app, route_logical, route, integrations)
    if route.get("AuthorizationType") == "AWS_IAM":
        app.unsupported.append((route_logical, "IAM authorization (not enforced)"))
    if route.get("ApiKeyRequired"):
        app.unsupported.append((route_logical, "API keys (not enforced)"))
    authorizer = None
    if route.get("AuthorizationType") == "CUSTOM":
        authorizer = _authorizer(app, route_logical, route, authorizers)
    return RouteSpec(
        key=str(route["RouteKey"]),
        function=function,
        has_route_response=has_route_response,
        authorizer=authorizer,
        timeout_s=timeout_s,
    )


def _integration(
    app: AppSpec, route_logical: str, route: Mapping[str, Any], integrations: ByPhysical
) -> tuple[str | None, float | None]:
    """The route's function and its integration's timeout. A route without an integration
    target (a mock) has neither."""
    target = str(route.get("Target", ""))
    if not target.startswith("integrations/"):
        return None, None
    integration = integrations.get(target.split("/", 1)[1])
    if integration is None:
        raise TemplateError(f"{route_logical}: target {target} is not in the template")
    integration_logical, props = integration
    function = function_for_uri(app, str(props.get("IntegrationUri", "")), integration_logical)
    timeout_s = integration_timeout_s(props.get("TimeoutInMillis"), integration_logical, 29_000)
    return function, timeout_s


def _authorizer(
    app: AppSpec, route_logical: str, route: Mapping[str, Any], authorizers: ByPhysical
) -> AuthorizerSpec:
    found = authorizers.get(str(route.get("AuthorizerId")))
    if found is None:
        raise TemplateError(f"{route_logical}: AuthorizerId names no authorizer")
    auth_logical, auth = found
    return AuthorizerSpec(
        logical_id=auth_logical,
        function=function_for_uri(app, str(auth.get("AuthorizerUri", "")), auth_logical),
        identity_sources=tuple(auth.get("IdentitySource") or ()),
    )
