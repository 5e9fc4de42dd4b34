"""From a SAM template to the things the runtime runs: functions, WebSocket APIs, tables, mappings.

The template is the single source of truth: routes, handlers, timeouts, environment, stream
mappings are read from it and from nowhere else. Resources with no local meaning are listed, not
silently dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubbub.runtime.cfn_yaml import load_template
from hubbub.runtime.intrinsics import Resolver, TemplateError

__all__ = [
    "AppSpec",
    "AuthorizerSpec",
    "FunctionSpec",
    "RouteSpec",
    "StreamMappingSpec",
    "TableSpec",
    "TemplateError",
    "WebSocketApiSpec",
    "load_app",
]

_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
_NO_LOCAL_EFFECT = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::IntegrationResponse",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::RouteResponse",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::Api",
        "AWS::Lambda::EventSourceMapping",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::SecretsManager::Secret",
        "AWS::SSM::Parameter",
        "AWS::Serverless::HttpApi",
    }
)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    runtime: str
    timeout_s: float
    memory_mb: int
    environment: dict[str, str]
    reserved_concurrency: int | None


@dataclass(frozen=True, slots=True)
class AuthorizerSpec:
    logical_id: str
    function: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RouteSpec:
    key: str
    function: str | None
    has_route_response: bool
    authorizer: AuthorizerSpec | None = None


@dataclass(frozen=True, slots=True)
class WebSocketApiSpec:
    logical_id: str
    api_id: str
    selection_expression: str
    stage: str
    routes: dict[str, RouteSpec]


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_id: str
    name: str
    stream_view_type: str | None
    ttl_attribute: str | None


@dataclass(frozen=True, slots=True)
class StreamMappingSpec:
    name: str
    function: str
    table: str
    batch_size: int = 100
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    report_batch_item_failures: bool = False
    starting_position: str = "LATEST"
    on_failure: str | None = None
    maximum_batching_window_s: float = 0.0
    enabled: bool = True


@dataclass(slots=True)
class AppSpec:
    path: Path
    parameters: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    websocket_apis: dict[str, WebSocketApiSpec] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    mappings: list[StreamMappingSpec] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[tuple[str, str]] = field(default_factory=list)


def load_app(
    path: Path,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    stack_name: str = "local",
) -> AppSpec:
    template = load_template(path)
    resolver = Resolver(
        template,
        parameter_overrides or {},
        region=region,
        account_id=account_id,
        stack_name=stack_name,
    )
    app = AppSpec(path=path, parameters=dict(resolver.parameters))
    resources: Mapping[str, Any] = template["Resources"]
    globals_fn = (template.get("Globals") or {}).get("Function") or {}

    for logical_id, resource in resources.items():
        if "Condition" in resource and not resolver.conditions.get(resource["Condition"], True):
            continue
        kind = resource.get("Type", "")
        if kind in _FUNCTION_TYPES:
            app.functions[logical_id] = _function(logical_id, resource, globals_fn, resolver, path)
        elif kind in _TABLE_TYPES:
            app.tables[logical_id] = _table(logical_id, resource, resolver)
        elif kind in _NO_LOCAL_EFFECT:
            app.ignored.append((logical_id, kind))
        else:
            app.unsupported.append((logical_id, kind))

    _websocket_apis(app, resources, resolver)
    _mappings(app, resources, resolver)
    return app


def _function(
    logical_id: str,
    resource: Mapping[str, Any],
    globals_fn: Mapping[str, Any],
    resolver: Resolver,
    template_path: Path,
) -> FunctionSpec:
    props: dict[str, Any] = {}
    if resource["Type"] == "AWS::Serverless::Function":
        props = copy.deepcopy(dict(globals_fn))
    own = resource.get("Properties") or {}
    env = dict(((props.get("Environment") or {}).get("Variables")) or {})
    env.update(((own.get("Environment") or {}).get("Variables")) or {})
    props.update(own)
    props["Environment"] = {"Variables": env}
    props = resolver.resolve(props)

    handler = props.get("Handler")
    if not handler or "." not in str(handler):
        raise TemplateError(f"{logical_id}: Handler must look like module.function")
    runtime = str(props.get("Runtime", "python3.12"))
    if not runtime.startswith("python"):
        raise TemplateError(f"{logical_id}: runtime {runtime} is not a Python runtime")
    code = props.get("CodeUri", ".")
    if isinstance(code, dict):
        raise TemplateError(f"{logical_id}: CodeUri must be a local path to run locally")
    code_dir = (template_path.parent / str(code)).resolve()
    if not code_dir.is_dir():
        raise TemplateError(f"{logical_id}: CodeUri {code_dir} is not a directory")
    name = resolver.physical_name(logical_id)
    variables = {k: _env_string(v) for k, v in (props["Environment"]["Variables"]).items()}
    reserved = props.get("ReservedConcurrentExecutions")
    return FunctionSpec(
        logical_id=logical_id,
        name=name,
        arn=resolver.get_att(logical_id, "Arn"),
        handler=str(handler),
        code_dir=code_dir,
        runtime=runtime,
        timeout_s=float(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)),
        environment=variables,
        reserved_concurrency=None if reserved is None else int(reserved),
    )


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _table(logical_id: str, resource: Mapping[str, Any], resolver: Resolver) -> TableSpec:
    props = resolver.resolve(resource.get("Properties") or {})
    stream = props.get("StreamSpecification") or {}
    ttl = props.get("TimeToLiveSpecification") or {}
    return TableSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        stream_view_type=stream.get("StreamViewType"),
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled", False) else None,
    )


def _by_physical(
    resources: Mapping[str, Any], resolver: Resolver, kind: str
) -> dict[str, tuple[str, dict[str, Any]]]:
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == kind:
            out[resolver.physical_name(logical_id)] = (
                logical_id,
                resolver.resolve(resource.get("Properties") or {}),
            )
    return out


def _function_for_uri(app: AppSpec, uri: str, where: str) -> str:
    for spec in app.functions.values():
        if spec.arn in uri:
            return spec.logical_id
    raise TemplateError(f"{where}: integration URI {uri!r} names no function of this template")


def _websocket_apis(app: AppSpec, resources: Mapping[str, Any], resolver: Resolver) -> None:
    apis = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Api")
    integrations = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Integration")
    routes = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Route")
    authorizers = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Authorizer")
    stages = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Stage")
    responses = _by_physical(resources, resolver, "AWS::ApiGatewayV2::RouteResponse")
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
            key = str(route["RouteKey"])
            target = str(route.get("Target", ""))
            function = None
            if target.startswith("integrations/"):
                integration = integrations.get(target.split("/", 1)[1])
                if integration is None:
                    raise TemplateError(f"{route_logical}: target {target} is not in the template")
                function = _function_for_uri(
                    app, str(integration[1].get("IntegrationUri", "")), integration[0]
                )
            authorizer = None
            if route.get("AuthorizationType") == "CUSTOM":
                found = authorizers.get(str(route.get("AuthorizerId")))
                if found is None:
                    raise TemplateError(f"{route_logical}: AuthorizerId names no authorizer")
                auth_logical, auth = found
                authorizer = AuthorizerSpec(
                    logical_id=auth_logical,
                    function=_function_for_uri(
                        app, str(auth.get("AuthorizerUri", "")), auth_logical
                    ),
                    identity_sources=tuple(auth.get("IdentitySource") or ()),
                )
            spec.routes[key] = RouteSpec(
                key=key,
                function=function,
                has_route_response=route_id in routes_with_response,
                authorizer=authorizer,
            )
        app.websocket_apis[logical_id] = spec


def _mappings(app: AppSpec, resources: Mapping[str, Any], resolver: Resolver) -> None:
    stream_arns = {resolver.get_att(t, "StreamArn"): t for t in app.tables}

    def add(name: str, function: str, props: Mapping[str, Any]) -> None:
        source = str(props.get("Stream") or props.get("EventSourceArn") or "")
        table = stream_arns.get(source)
        if table is None:
            app.unsupported.append((name, f"event source {source!r}"))
            return
        if app.tables[table].stream_view_type is None:
            raise TemplateError(f"{name}: table {table} has no StreamSpecification")
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        app.mappings.append(
            StreamMappingSpec(
                name=name,
                function=function,
                table=table,
                batch_size=int(props.get("BatchSize", 100)),
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                maximum_record_age_s=int(props.get("MaximumRecordAgeInSeconds", -1)),
                report_batch_item_failures="ReportBatchItemFailures"
                in (props.get("FunctionResponseTypes") or []),
                starting_position=str(props.get("StartingPosition", "LATEST")),
                on_failure=None if destination is None else str(destination),
                maximum_batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                enabled=bool(props.get("Enabled", True)),
            )
        )

    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function" and logical_id in app.functions:
            events = (resource.get("Properties") or {}).get("Events") or {}
            for event_name, event in events.items():
                if event.get("Type") == "DynamoDB":
                    add(
                        f"{logical_id}.{event_name}",
                        logical_id,
                        resolver.resolve(event.get("Properties") or {}),
                    )
        elif resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            props = resolver.resolve(resource.get("Properties") or {})
            function_ref = str(props.get("FunctionName", ""))
            function = next(
                (
                    f.logical_id
                    for f in app.functions.values()
                    if function_ref in (f.name, f.arn, f.logical_id)
                ),
                None,
            )
            if function is None:
                raise TemplateError(f"{logical_id}: FunctionName names no function")
            add(logical_id, function, props)
