"""From a SAM template to the things the runtime runs: functions, WebSocket and HTTP APIs, tables,
mappings.

The template is the single source of truth: routes, handlers, timeouts, environment, stream
mappings are read from it and from nowhere else. Resources with no local meaning are listed, not
silently dropped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError, local_api_id
from hubbub.runtime.cloudformation.yamltags import load_template
from hubbub.runtime.dynamodb.filters import FilterError, compile_filters

__all__ = [
    "HTTP_METHODS",
    "IMPLICIT_HTTP_API",
    "AppSpec",
    "AuthorizerSpec",
    "CorsSpec",
    "FunctionSpec",
    "HttpApiSpec",
    "HttpRouteSpec",
    "RouteSpec",
    "StreamMappingSpec",
    "TableSpec",
    "TemplateError",
    "WebSocketApiSpec",
    "load_app",
    "parse_route_key",
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
    }
)
_HTTP_API_TYPE = "AWS::Serverless::HttpApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
"""The logical id SAM gives the HTTP API it creates for ``HttpApi`` events without an ``ApiId``."""
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})


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
class CorsSpec:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_s: int | None = None


@dataclass(frozen=True, slots=True)
class HttpRouteSpec:
    key: str
    """``$default``, or ``METHOD /path`` exactly as API Gateway spells the route key."""
    function: str
    method: str
    """The HTTP method, ``ANY`` for any method and for ``$default``."""
    path: str | None
    """``/pets/{id}`` or ``/files/{proxy+}``; None for ``$default``."""

    @property
    def is_default(self) -> bool:
        return self.path is None


@dataclass(frozen=True, slots=True)
class HttpApiSpec:
    logical_id: str
    api_id: str
    stage: str
    """``$default`` (served at the root) or a named stage (served under ``/{stage}``)."""
    routes: dict[str, HttpRouteSpec]
    cors: CorsSpec | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_id: str
    name: str
    stream_view_type: str | None
    ttl_attribute: str | None
    kind: str = "AWS::DynamoDB::Table"
    properties: Mapping[str, Any] = field(default_factory=dict)
    """The resolved ``Properties``, from which the table is created (``dynamodb/tables.py``)."""


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
    filters: tuple[dict[str, Any], ...] = ()
    """``FilterCriteria`` patterns (``dynamodb/filters.py``); records none matches are skipped."""


@dataclass(slots=True)
class AppSpec:
    path: Path
    parameters: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    websocket_apis: dict[str, WebSocketApiSpec] = field(default_factory=dict)
    http_apis: dict[str, HttpApiSpec] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    mappings: list[StreamMappingSpec] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[tuple[str, str]] = field(default_factory=list)
    region: str = "us-east-1"
    account_id: str = "123456789012"


def load_app(
    path: Path,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    stack_name: str = "local",
    inline_code_dir: Path | None = None,
) -> AppSpec:
    """``inline_code_dir`` is where ``ZipFile``/``InlineCode`` functions are written out."""
    template = load_template(path)
    resolver = Resolver(
        template,
        parameter_overrides or {},
        region=region,
        account_id=account_id,
        stack_name=stack_name,
    )
    app = AppSpec(
        path=path, parameters=dict(resolver.parameters), region=region, account_id=account_id
    )
    resources: Mapping[str, Any] = template["Resources"]
    globals_fn = (template.get("Globals") or {}).get("Function") or {}

    for logical_id, resource in resources.items():
        if "Condition" in resource and not resolver.conditions.get(resource["Condition"], True):
            continue
        kind = resource.get("Type", "")
        if kind in _FUNCTION_TYPES:
            app.functions[logical_id] = _function(
                logical_id, resource, globals_fn, resolver, path, inline_code_dir
            )
            own = resource.get("Properties") or {}
            if own.get("Layers") or (kind == _FUNCTION_TYPES[0] and globals_fn.get("Layers")):
                app.unsupported.append((logical_id, "Layers (install their packages instead)"))
        elif kind in _TABLE_TYPES:
            app.tables[logical_id] = _table(logical_id, resource, resolver)
        elif kind in _NO_LOCAL_EFFECT:
            app.ignored.append((logical_id, kind))
        elif kind == _HTTP_API_TYPE:
            pass  # read with the function events that make its routes, below
        else:
            app.unsupported.append((logical_id, kind))

    _websocket_apis(app, resources, resolver)
    _http_apis(app, template, resolver)
    _mappings(app, resources, resolver)
    return app


def _function(
    logical_id: str,
    resource: Mapping[str, Any],
    globals_fn: Mapping[str, Any],
    resolver: Resolver,
    template_path: Path,
    inline_code_dir: Path | None = None,
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
    code_dir = _code_dir(logical_id, resource["Type"], props, template_path, inline_code_dir)
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


def _code_dir(
    logical_id: str,
    kind: str,
    props: Mapping[str, Any],
    template_path: Path,
    inline_code_dir: Path | None,
) -> Path:
    """Where the function's code is, read the way ``sam local`` reads it.

    SAM: ``CodeUri`` (a local path) or ``InlineCode``. CloudFormation: ``Code`` as a local path
    string (what ``sam local`` and ``sam package`` accept before upload) or ``Code: {ZipFile}``.
    Inline code becomes ``index.py`` in a directory of its own, as Lambda writes it for Python.
    """
    if kind == "AWS::Serverless::Function":
        inline, code = props.get("InlineCode"), props.get("CodeUri", ".")
        what = "CodeUri"
    else:
        code = props.get("Code", props.get("CodeUri"))  # CodeUri: leniency for SAM habits
        inline = code.get("ZipFile") if isinstance(code, Mapping) else None
        what = "Code"
        if code is None:
            raise TemplateError(f"{logical_id}: an AWS::Lambda::Function needs Code")
        if props.get("PackageType") == "Image":
            raise TemplateError(f"{logical_id}: container image functions are not run locally")
    if inline is not None:
        if inline_code_dir is None:
            raise TemplateError(f"{logical_id}: inline code needs a directory to be written to")
        target = inline_code_dir / logical_id
        target.mkdir(parents=True, exist_ok=True)
        source = target / "index.py"
        if not source.exists() or source.read_text(encoding="utf-8") != str(inline):
            source.write_text(str(inline), encoding="utf-8")
        return target.resolve()
    if isinstance(code, Mapping):
        raise TemplateError(
            f"{logical_id}: {what} must be a local path to run locally, not an S3 location"
        )
    code_dir = (template_path.parent / str(code)).resolve()
    if not code_dir.is_dir():
        raise TemplateError(f"{logical_id}: {what} {code_dir} is not a directory")
    return code_dir


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
        kind=str(resource.get("Type")),
        properties=props,
    )


def _by_physical(
    resources: Mapping[str, Any], resolver: Resolver, kind: str
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Active resources of one type by physical id; those whose Condition is false do not
    exist, as in a deployed stack."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == kind and _active(resource, resolver):
            out[resolver.physical_name(logical_id)] = (
                logical_id,
                resolver.resolve(resource.get("Properties") or {}),
            )
    return out


def _function_for_uri(app: AppSpec, uri: str, where: str) -> str:
    """The function an integration URI invokes; the ARN must end at a boundary (``/``, ``:``
    or the end), so ``local-Foo`` is never mistaken for ``local-FooBar``."""
    for spec in app.functions.values():
        if re.search(re.escape(spec.arn) + r"(?=$|[/:])", uri):
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
            if route.get("AuthorizationType") == "AWS_IAM":
                app.unsupported.append((route_logical, "IAM authorization (not enforced)"))
            if route.get("ApiKeyRequired"):
                app.unsupported.append((route_logical, "API keys (not enforced)"))
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


# HTTP APIs -------------------------------------------------------------------------------------
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


def _http_route(key: str, function: str, where: str) -> HttpRouteSpec:
    method, path = parse_route_key(key, where)
    canonical = "$default" if path is None else f"{method} {path}"
    return HttpRouteSpec(key=canonical, function=function, method=method, path=path)


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


def _active(resource: Mapping[str, Any], resolver: Resolver) -> bool:
    condition = resource.get("Condition")
    return condition is None or resolver.conditions.get(condition, True)


def _add_http_route(app: AppSpec, api: HttpApiSpec, route: HttpRouteSpec, where: str) -> None:
    if route.key in api.routes:
        raise TemplateError(f"{where}: route {route.key!r} is already defined on {api.logical_id}")
    api.routes[route.key] = route


def _http_apis(app: AppSpec, template: Mapping[str, Any], resolver: Resolver) -> None:
    _serverless_http_apis(app, template, resolver)
    _cloudformation_http_apis(app, template["Resources"], resolver)


def _serverless_http_apis(app: AppSpec, template: Mapping[str, Any], resolver: Resolver) -> None:
    """SAM's form: ``HttpApi`` function events, on a declared ``AWS::Serverless::HttpApi`` or on
    the implicit ``ServerlessHttpApi`` SAM creates for events without an ``ApiId``."""
    resources: Mapping[str, Any] = template["Resources"]
    globals_api: Mapping[str, Any] = (template.get("Globals") or {}).get("HttpApi") or {}
    by_reference: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == _HTTP_API_TYPE and _active(resource, resolver):
            props = resolver.resolve({**globals_api, **(resource.get("Properties") or {})})
            app.http_apis[logical_id] = _serverless_http_api(app, logical_id, props)
            by_reference[resolver.physical_name(logical_id)] = logical_id
            by_reference[logical_id] = logical_id

    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function" or logical_id not in app.functions:
            continue
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            if event.get("Type") != "HttpApi":
                continue
            where = f"{logical_id}.{event_name}"
            props = resolver.resolve(event.get("Properties") or {})
            api = _event_api(app, props, by_reference, resolver.resolve(globals_api), where)
            if str(props.get("PayloadFormatVersion", "2.0")) != "2.0":
                app.unsupported.append((where, "HTTP API payload format 1.0"))
                continue
            if props.get("Auth"):
                app.unsupported.append((where, "HTTP API route authorizer (not enforced)"))
            key = _event_route_key(props, where)
            _add_http_route(app, api, _http_route(key, logical_id, where), where)


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
    reference = props.get("ApiId")
    if reference is None:
        if IMPLICIT_HTTP_API not in app.http_apis:
            app.http_apis[IMPLICIT_HTTP_API] = _serverless_http_api(
                app, IMPLICIT_HTTP_API, globals_api
            )
        return app.http_apis[IMPLICIT_HTTP_API]
    logical_id = by_reference.get(str(reference))
    if logical_id is None:
        raise TemplateError(f"{where}: ApiId {reference!r} names no AWS::Serverless::HttpApi")
    return app.http_apis[logical_id]


def _cloudformation_http_apis(
    app: AppSpec, resources: Mapping[str, Any], resolver: Resolver
) -> None:
    """CloudFormation's form: ``AWS::ApiGatewayV2::Api`` (HTTP) with Route, Integration, Stage."""
    apis = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Api")
    integrations = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Integration")
    routes = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Route")
    stages = _by_physical(resources, resolver, "AWS::ApiGatewayV2::Stage")
    for api_id, (logical_id, props) in apis.items():
        if props.get("ProtocolType") != "HTTP" or not _active(resources[logical_id], resolver):
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
            target = _function_for_uri(app, str(props["Target"]), logical_id)
            _add_http_route(app, api, _http_route("$default", target, logical_id), logical_id)
        for route_logical, route in routes.values():
            if route.get("ApiId") != api_id or not _active(resources[route_logical], resolver):
                continue
            function = _route_function(app, route_logical, route, integrations)
            if function is None:
                continue
            if route.get("AuthorizationType", "NONE") != "NONE":
                app.unsupported.append((route_logical, "HTTP API route authorizer (not enforced)"))
            route_spec = _http_route(str(route["RouteKey"]), function, route_logical)
            _add_http_route(app, api, route_spec, route_logical)
        app.http_apis[logical_id] = api


def _route_function(
    app: AppSpec,
    route_logical: str,
    route: Mapping[str, Any],
    integrations: Mapping[str, tuple[str, dict[str, Any]]],
) -> str | None:
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
    return _function_for_uri(app, uri, integration_logical)


def _filters(criteria: Any, where: str) -> tuple[dict[str, Any], ...]:
    try:
        return compile_filters(criteria, where)
    except FilterError as exc:
        raise TemplateError(str(exc)) from None


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
                filters=_filters(props.get("FilterCriteria"), name),
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
                elif event.get("Type") != "HttpApi":  # read with the HTTP APIs
                    app.unsupported.append(
                        (f"{logical_id}.{event_name}", f"{event.get('Type')} event")
                    )
        elif resource.get("Type") == "AWS::Lambda::EventSourceMapping" and _active(
            resource, resolver
        ):
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
