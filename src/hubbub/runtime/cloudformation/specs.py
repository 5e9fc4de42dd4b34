"""What the runtime runs, as read from the template: the one vocabulary between the template
reader and the emulated services, so that API Gateway, Lambda and DynamoDB never read YAML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AppSpec",
    "AuthorizerSpec",
    "BucketSpec",
    "CorsSpec",
    "EmailIdentitySpec",
    "FunctionSpec",
    "HttpApiSpec",
    "HttpRouteSpec",
    "IotAuthorizerSpec",
    "QueueMappingSpec",
    "QueueSpec",
    "RestApiSpec",
    "RestCorsSpec",
    "RouteSpec",
    "ScheduleSpec",
    "StreamMappingSpec",
    "SubscriptionSpec",
    "TableSpec",
    "TopicRuleSpec",
    "TopicSpec",
    "WebSocketApiSpec",
]


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
    architecture: str = "x86_64"
    """``Architectures``' one entry: ``x86_64`` or ``arm64`` (what ``sam build`` installs for)."""


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
    timeout_s: float | None = None
    """The integration's ``TimeoutInMillis``; None: the API's default (29 s)."""


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
    timeout_s: float | None = None
    """The integration's ``TimeoutInMillis``; None: the API's default."""

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
class RestCorsSpec:
    """SAM's ``Cors`` of a REST API: OPTIONS answered by the API itself (a mock integration SAM
    adds), with these values verbatim; the function's own answers get no CORS header added."""

    allow_origin: str
    allow_methods: str | None = None
    """None: the methods the path has, and OPTIONS (what SAM writes)."""
    allow_headers: str | None = None
    max_age: str | None = None
    allow_credentials: bool = False


@dataclass(frozen=True, slots=True)
class RestApiSpec:
    """A REST API (``AWS::Serverless::Api``, or the ``ServerlessRestApi`` SAM makes for ``Api``
    events), its Lambda proxy methods as routes keyed ``METHOD /resource`` like an HTTP API's."""

    logical_id: str
    api_id: str
    stage: str
    """Always a named stage (REST APIs have no ``$default``): served under ``/{stage}``."""
    routes: dict[str, HttpRouteSpec]
    cors: RestCorsSpec | None = None
    stage_variables: dict[str, str] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A ``Schedule`` (EventBridge rule) or ``ScheduleV2`` (EventBridge Scheduler) event."""

    logical_id: str
    """``Function.EventName``, the name the admin API fires it by."""
    function: str
    kind: str
    """``Schedule`` or ``ScheduleV2``."""
    expression: str
    """``rate(...)``, ``cron(...)`` or (ScheduleV2) ``at(...)``, checked at load."""
    enabled: bool
    name: str
    """The rule's or schedule's name, in the rule ARN of a ``Schedule`` event."""
    input: Any = None
    """The parsed ``Input`` JSON, or None for the service's default payload."""
    timezone: str = "UTC"


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
    parallelization_factor: int = 1
    """Batches of the shard handled at once, each partition key in one of them (``lanes.py``)."""
    tumbling_window_s: int = 0
    """``TumblingWindowInSeconds``: 0 for none, else state kept across invocations
    (``dynamodb/windows.py``)."""


@dataclass(frozen=True, slots=True)
class EmailIdentitySpec:
    """An ``AWS::SES::EmailIdentity``: an address (``a@example.com``) or a domain to send from."""

    logical_id: str
    identity: str


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """``AWS::SQS::Queue``: created in the embedded moto with its attributes (``sqs/``)."""

    logical_id: str
    name: str
    arn: str
    url: str
    """What ``Ref`` gives on AWS: ``https://sqs.{region}.amazonaws.com/{account}/{name}``."""
    attributes: dict[str, str]
    """CreateQueue attributes (VisibilityTimeout, RedrivePolicy...), as SQS spells them."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """``AWS::SNS::Topic``."""

    logical_id: str
    name: str
    arn: str
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """A subscription of a topic: ``sqs`` (a queue ARN) or ``lambda`` (a function logical id)."""

    name: str
    topic: str
    """The topic's logical id."""
    protocol: str
    endpoint: str
    """The queue's ARN for ``sqs``; the function's logical id for ``lambda``."""
    attributes: dict[str, str] = field(default_factory=dict)
    """FilterPolicy, FilterPolicyScope, RawMessageDelivery, as SNS spells them."""


@dataclass(frozen=True, slots=True)
class QueueMappingSpec:
    """An SQS event source: SAM's ``SQS`` event or an ``AWS::Lambda::EventSourceMapping`` on a
    queue ARN, with Lambda's defaults for every setting left out."""

    name: str
    function: str
    queue: str
    """The queue's logical id."""
    batch_size: int = 10
    maximum_batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    enabled: bool = True
    filters: tuple[dict[str, Any], ...] = ()
    maximum_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """``AWS::S3::Bucket``: created in the runtime's moto and fronted on its port (``s3/``)."""

    logical_id: str
    name: str
    cors_rules: tuple[dict[str, Any], ...] = ()
    """``CorsConfiguration.CorsRules`` as the template writes them."""
    lifecycle_rules: tuple[dict[str, Any], ...] = ()
    """``LifecycleConfiguration.Rules``: listed, not applied locally."""


@dataclass(slots=True)
class AppSpec:
    path: Path
    parameters: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    websocket_apis: dict[str, WebSocketApiSpec] = field(default_factory=dict)
    http_apis: dict[str, HttpApiSpec] = field(default_factory=dict)
    rest_apis: dict[str, RestApiSpec] = field(default_factory=dict)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    mappings: list[StreamMappingSpec] = field(default_factory=list)
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    topics: dict[str, TopicSpec] = field(default_factory=dict)
    subscriptions: list[SubscriptionSpec] = field(default_factory=list)
    queue_mappings: list[QueueMappingSpec] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[tuple[str, str]] = field(default_factory=list)
    region: str = "us-east-1"
    account_id: str = "123456789012"
    iot_authorizers: dict[str, IotAuthorizerSpec] = field(default_factory=dict)
    topic_rules: list[TopicRuleSpec] = field(default_factory=list)
    buckets: dict[str, BucketSpec] = field(default_factory=dict)
    email_identities: dict[str, EmailIdentitySpec] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IotAuthorizerSpec:
    """An ``AWS::IoT::Authorizer``: the function IoT Core calls on each CONNECT."""

    logical_id: str
    name: str
    function: str
    signing_disabled: bool
    token_key_name: str | None
    active: bool
    enable_caching_for_http: bool = False


@dataclass(frozen=True, slots=True)
class TopicRuleSpec:
    """An ``AWS::IoT::TopicRule`` or a SAM ``IoTRule`` event: its SQL and the functions its
    Lambda actions invoke; ``not_emulated`` names the actions read but not performed."""

    logical_id: str
    name: str
    sql: str
    sql_version: str
    functions: tuple[str, ...]
    disabled: bool = False
    not_emulated: tuple[str, ...] = ()
