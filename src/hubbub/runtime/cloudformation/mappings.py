"""Event source mappings: the ``DynamoDB`` events of SAM functions and
``AWS::Lambda::EventSourceMapping`` resources on a table's stream, with Lambda's defaults for every
setting left out; those on a queue (and SAM's ``SQS`` and ``SNS`` events) are read by
``messaging.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.functions import function_events
from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.messaging import queue_mapping, queue_of, sns_event
from hubbub.runtime.cloudformation.resources import active, bounded
from hubbub.runtime.cloudformation.specs import AppSpec, StreamMappingSpec
from hubbub.runtime.dynamodb.filters import FilterError, compile_filters
from hubbub.runtime.dynamodb.lanes import MAX_FACTOR
from hubbub.runtime.dynamodb.windows import MAX_WINDOW_S

__all__ = ["read_mappings"]

_EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"
_READ_ELSEWHERE = frozenset({"HttpApi", "Api", "Schedule", "ScheduleV2", "IoTRule"})
"""Event types other readers turn into routes (``httpapi``, ``restapi``), schedules and IoT
rules (``iot``)."""


def read_mappings(app: AppSpec, resources: Mapping[str, Any], resolver: Resolver) -> None:
    """Adds the mappings to ``app`` in template order; its tables and functions must have been
    read already. Events of types with no local source are listed (API and schedule events are
    read by their own readers)."""
    stream_arns = {resolver.get_att(t, "StreamArn"): t for t in app.tables}
    for logical_id, resource in resources.items():
        if resource.get("Type") == _EVENT_SOURCE_MAPPING and active(resource, resolver):
            props = resolver.resolve(resource.get("Properties") or {})
            function = _mapped_function(app, logical_id, props)
            _add(app, stream_arns, logical_id, function, props)
        for event_name, event in function_events(app, logical_id, resource):
            where = f"{logical_id}.{event_name}"
            if event.get("Type") in ("DynamoDB", "SQS"):
                props = resolver.resolve(event.get("Properties") or {})
                _add(app, stream_arns, where, logical_id, props)
            elif event.get("Type") == "SNS":
                sns_event(app, where, logical_id, resolver.resolve(event.get("Properties") or {}))
            elif event.get("Type") not in _READ_ELSEWHERE:
                app.unsupported.append((where, f"{event.get('Type')} event"))


def _mapped_function(app: AppSpec, logical_id: str, props: Mapping[str, Any]) -> str:
    """``FunctionName`` may be the function's name, its ARN or (through ``Ref``) its logical id."""
    function_ref = str(props.get("FunctionName", ""))
    for spec in app.functions.values():
        if function_ref in (spec.name, spec.arn, spec.logical_id):
            return spec.logical_id
    raise TemplateError(f"{logical_id}: FunctionName names no function")


def _add(
    app: AppSpec,
    stream_arns: Mapping[str, str],
    name: str,
    function: str,
    props: Mapping[str, Any],
) -> None:
    """Only table streams and queues of this template are emulated; any other source is
    listed."""
    source = str(props.get("Stream") or props.get("Queue") or props.get("EventSourceArn") or "")
    queue = queue_of(app, source)
    if queue is not None:
        fifo = app.queues[queue].attributes.get("FifoQueue") == "true"
        app.queue_mappings.append(queue_mapping(name, function, queue, props, fifo=fifo))
        return
    table = stream_arns.get(source)
    if table is None:
        app.unsupported.append((name, f"event source {source!r}"))
        return
    if app.tables[table].stream_view_type is None:
        raise TemplateError(f"{name}: table {table} has no StreamSpecification")
    app.mappings.append(_mapping(name, function, table, props))


def _mapping(name: str, function: str, table: str, props: Mapping[str, Any]) -> StreamMappingSpec:
    destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return StreamMappingSpec(
        name=name,
        function=function,
        table=table,
        batch_size=bounded(props.get("BatchSize", 100), "BatchSize", 1, 10_000, name),
        bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
        maximum_retry_attempts=bounded(
            props.get("MaximumRetryAttempts", -1), "MaximumRetryAttempts", -1, 10_000, name
        ),
        maximum_record_age_s=_record_age(props.get("MaximumRecordAgeInSeconds", -1), name),
        report_batch_item_failures="ReportBatchItemFailures"
        in (props.get("FunctionResponseTypes") or []),
        starting_position=str(props.get("StartingPosition", "LATEST")),
        on_failure=None if destination is None else str(destination),
        maximum_batching_window_s=bounded(
            props.get("MaximumBatchingWindowInSeconds", 0),
            "MaximumBatchingWindowInSeconds",
            0,
            300,
            name,
        ),
        enabled=bool(props.get("Enabled", True)),
        filters=_filters(props.get("FilterCriteria"), name),
        parallelization_factor=bounded(
            props.get("ParallelizationFactor", 1), "ParallelizationFactor", 1, MAX_FACTOR, name
        ),
        tumbling_window_s=bounded(
            props.get("TumblingWindowInSeconds", 0),
            "TumblingWindowInSeconds",
            0,
            MAX_WINDOW_S,
            name,
        ),
    )


def _record_age(value: Any, where: str) -> int:
    """-1 (records never too old) or 60-604,800 s: the Lambda API's range is -1-604,800, but
    "the minimum valid value for maximum record age is 60s" (*CreateEventSourceMapping*)."""
    if str(value).strip() == "-1":
        return -1
    try:
        return bounded(value, "MaximumRecordAgeInSeconds", 60, 604_800, where)
    except TemplateError as exc:
        raise TemplateError(f"{exc} (or -1)") from None


def _filters(criteria: Any, where: str) -> tuple[dict[str, Any], ...]:
    """A bad filter pattern is a template error, refused at load like any other."""
    try:
        return compile_filters(criteria, where)
    except FilterError as exc:
        raise TemplateError(str(exc)) from None
