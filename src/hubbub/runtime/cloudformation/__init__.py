"""CloudFormation: the SAM template read the way CloudFormation reads it (YAML tags, intrinsics,
resources) into the specs the other emulated services run.

``load_app`` is the way in; ``specs`` is what comes out. One module per resource family
(``functions``, ``tables``, ``websocket``, ``httpapi``, ``restapi``, ``schedules``,
``mappings``, ``messaging``) reads its resources.
"""

from hubbub.runtime.cloudformation.httpapi import HTTP_METHODS, IMPLICIT_HTTP_API, parse_route_key
from hubbub.runtime.cloudformation.intrinsics import TemplateError
from hubbub.runtime.cloudformation.loader import load_app
from hubbub.runtime.cloudformation.specs import (
    AppSpec,
    AuthorizerSpec,
    CorsSpec,
    FunctionSpec,
    HttpApiSpec,
    HttpRouteSpec,
    QueueMappingSpec,
    QueueSpec,
    RestApiSpec,
    RestCorsSpec,
    RouteSpec,
    ScheduleSpec,
    StreamMappingSpec,
    SubscriptionSpec,
    TableSpec,
    TopicSpec,
    WebSocketApiSpec,
)

__all__ = [
    "HTTP_METHODS",
    "IMPLICIT_HTTP_API",
    "AppSpec",
    "AuthorizerSpec",
    "CorsSpec",
    "FunctionSpec",
    "HttpApiSpec",
    "HttpRouteSpec",
    "QueueMappingSpec",
    "QueueSpec",
    "RestApiSpec",
    "RestCorsSpec",
    "RouteSpec",
    "ScheduleSpec",
    "StreamMappingSpec",
    "SubscriptionSpec",
    "TableSpec",
    "TemplateError",
    "TopicSpec",
    "WebSocketApiSpec",
    "load_app",
    "parse_route_key",
]
