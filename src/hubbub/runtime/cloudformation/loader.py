"""From a SAM template to the things the runtime runs: functions, WebSocket, HTTP and REST APIs,
schedules, tables, mappings.

The template is the single source of truth: routes, handlers, timeouts, environment, stream
mappings are read from it and from nowhere else. Resources with no local meaning are listed, not
silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hubbub.runtime.cloudformation.buckets import BUCKET_TYPE, read_bucket
from hubbub.runtime.cloudformation.functions import FUNCTION_TYPES, read_function
from hubbub.runtime.cloudformation.httpapi import HTTP_API_TYPE, read_http_apis
from hubbub.runtime.cloudformation.intrinsics import Resolver
from hubbub.runtime.cloudformation.iot import IOT_TYPES, read_iot
from hubbub.runtime.cloudformation.mappings import read_mappings
from hubbub.runtime.cloudformation.messaging import (
    QUEUE_TYPE,
    TOPIC_TYPE,
    read_queue,
    read_subscriptions,
    read_topic,
)
from hubbub.runtime.cloudformation.resources import active
from hubbub.runtime.cloudformation.restapi import REST_API_TYPE, read_rest_apis
from hubbub.runtime.cloudformation.schedules import read_schedules
from hubbub.runtime.cloudformation.ses import EMAIL_IDENTITY_TYPE, read_email_identity
from hubbub.runtime.cloudformation.specs import AppSpec
from hubbub.runtime.cloudformation.tables import TABLE_TYPES, read_table
from hubbub.runtime.cloudformation.websocket import read_websocket_apis
from hubbub.runtime.cloudformation.yamltags import load_template

__all__ = ["load_app"]

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
        "AWS::SNS::Subscription",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SecretsManager::Secret",
        "AWS::SSM::Parameter",
    }
)
"""Listed as ignored: nothing to run locally, or (APIs, routes, mappings, subscriptions) read in
a later pass that needs the functions first."""


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
    _read_resources(app, resources, template, resolver, inline_code_dir)
    # APIs and mappings point at functions and tables, so they are read once those are known.
    read_websocket_apis(app, resources, resolver)
    read_http_apis(app, template, resolver)
    read_rest_apis(app, template, resolver)
    read_schedules(app, resources, resolver)
    read_mappings(app, resources, resolver)
    read_iot(app, resources, resolver)
    read_subscriptions(app, resources, resolver)
    return app


def _read_resources(
    app: AppSpec,
    resources: Mapping[str, Any],
    template: Mapping[str, Any],
    resolver: Resolver,
    inline_code_dir: Path | None,
) -> None:
    """Functions and tables, and the list of what is ignored or unsupported, in template order."""
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    for logical_id, resource in resources.items():
        if not active(resource, resolver):
            continue
        kind = resource.get("Type", "")
        if kind in FUNCTION_TYPES:
            read_function(app, logical_id, resource, globals_fn, resolver, inline_code_dir)
        elif kind in TABLE_TYPES:
            app.tables[logical_id] = read_table(logical_id, resource, resolver)
        elif kind == QUEUE_TYPE:
            app.queues[logical_id] = read_queue(logical_id, resource, resolver)
        elif kind == TOPIC_TYPE:
            app.topics[logical_id] = read_topic(logical_id, resource, resolver)
        elif kind == BUCKET_TYPE:
            app.buckets[logical_id] = read_bucket(logical_id, resource, resolver)
        elif kind == EMAIL_IDENTITY_TYPE:
            app.email_identities[logical_id] = read_email_identity(logical_id, resource, resolver)
        elif kind in _NO_LOCAL_EFFECT:
            app.ignored.append((logical_id, kind))
        elif kind in (HTTP_API_TYPE, REST_API_TYPE):
            pass  # read with the function events that make its routes
        elif kind in IOT_TYPES:
            pass  # read once the functions they name are known
        else:
            app.unsupported.append((logical_id, kind))
