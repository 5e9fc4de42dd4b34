"""Reading queues, topics, subscriptions and SQS event sources (``cloudformation.messaging``).

AWS: *AWS::SQS::Queue* (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html):
``Ref`` returns the queue URL, ``Fn::GetAtt`` gives ``Arn`` and ``QueueName``; *AWS::SNS::Topic*:
``Ref`` returns the topic ARN; *SQS* event of SAM
(https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-sqs.html)
and *Lambda parameters for Amazon SQS event source mappings*
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html): BatchSize 10 by
default, up to 10,000, and over 10 only with a MaximumBatchingWindowInSeconds of at least 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation import TemplateError, load_app
from tests.unit.runtime.cloudformation.builders import ACCOUNT, REGION, fn, write

QUEUE_ARN = {"Fn::GetAtt": ["Jobs", "Arn"]}


def resources(**extra: Any) -> dict[str, Any]:
    return {
        "Dead": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dead"}},
        "Jobs": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": 30,
                "FifoQueue": False,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Dead", "Arn"]},
                    "maxReceiveCount": 3,
                },
            },
        },
        "News": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "news"}},
        **extra,
    }


def test_queues_keep_their_attributes_and_refs_give_aws_shapes(tmp_path: Path) -> None:
    app = load_app(
        write(
            tmp_path,
            resources(
                Worker=fn(
                    Environment={"Variables": {"JOBS": {"Ref": "Jobs"}, "NEWS": {"Ref": "News"}}}
                )
            ),
        )
    )
    jobs = app.queues["Jobs"]
    assert jobs.name == "local-Jobs"
    assert jobs.arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:local-Jobs"
    assert jobs.url == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/local-Jobs"
    assert jobs.attributes["VisibilityTimeout"] == "30"
    assert jobs.attributes["FifoQueue"] == "false"
    assert json.loads(jobs.attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dead",
        "maxReceiveCount": 3,
    }
    assert app.topics["News"].arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:news"
    env = app.functions["Worker"].environment
    assert env == {"JOBS": jobs.url, "NEWS": app.topics["News"].arn}


def test_a_fifo_queue_without_a_name_gets_the_fifo_suffix(tmp_path: Path) -> None:
    app = load_app(
        write(tmp_path, {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}})
    )
    assert app.queues["Q"].name == "local-Q.fifo"


def test_sqs_events_and_mappings_become_queue_mappings_with_lambda_defaults(
    tmp_path: Path,
) -> None:
    app = load_app(
        write(
            tmp_path,
            resources(
                Worker=fn(Events={"Jobs": {"Type": "SQS", "Properties": {"Queue": QUEUE_ARN}}}),
                Other=fn(),
                Mapping={
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "FunctionName": {"Ref": "Other"},
                        "EventSourceArn": QUEUE_ARN,
                        "BatchSize": 100,
                        "MaximumBatchingWindowInSeconds": 2,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        "ScalingConfig": {"MaximumConcurrency": 3},
                        "FilterCriteria": {"Filters": [{"Pattern": '{"body": {"k": ["v"]}}'}]},
                    },
                },
            ),
        )
    )
    default, tuned = app.queue_mappings
    assert (default.name, default.function, default.queue) == ("Worker.Jobs", "Worker", "Jobs")
    assert (default.batch_size, default.maximum_batching_window_s) == (10, 0.0)
    assert not default.report_batch_item_failures
    assert (tuned.function, tuned.batch_size, tuned.maximum_batching_window_s) == (
        "Other",
        100,
        2.0,
    )
    assert tuned.report_batch_item_failures
    assert tuned.maximum_concurrency == 3
    assert tuned.filters == ({"body": {"k": ["v"]}},)
    assert not any("Jobs" in where for where, _ in app.unsupported)


@pytest.mark.parametrize(
    "props",
    [
        {"Queue": QUEUE_ARN, "BatchSize": 11},
        {"Queue": QUEUE_ARN, "BatchSize": 0},
        {"Queue": QUEUE_ARN, "BatchSize": 20000, "MaximumBatchingWindowInSeconds": 5},
        {"Queue": QUEUE_ARN, "FilterCriteria": {"Filters": [{"Pattern": '{"body": "x"}'}]}},
    ],
)
def test_an_sqs_event_lambda_would_refuse_fails_the_template(
    tmp_path: Path, props: dict[str, Any]
) -> None:
    path = write(
        tmp_path, resources(Worker=fn(Events={"Jobs": {"Type": "SQS", "Properties": props}}))
    )
    with pytest.raises(TemplateError, match=r"Worker\.Jobs"):
        load_app(path)


@pytest.mark.parametrize(
    ("props", "refused"),
    [
        ({"BatchSize": 10}, None),
        ({"BatchSize": 11, "MaximumBatchingWindowInSeconds": 1}, "1 to 10 for a FIFO queue"),
        ({"MaximumBatchingWindowInSeconds": 1}, "no MaximumBatchingWindowInSeconds"),
    ],
)
def test_a_fifo_queue_takes_ten_messages_a_batch_and_no_window(
    tmp_path: Path, props: dict[str, Any], refused: str | None
) -> None:
    """*Lambda parameters for Amazon SQS event source mappings*: for FIFO queues BatchSize is
    at most 10, and the batching window is not supported."""
    fifo = {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}
    event = {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Q", "Arn"]}, **props}}
    path = write(tmp_path, {"Q": fifo, "Worker": fn(Events={"Q": {**event}})})
    if refused is None:
        (mapping,) = load_app(path).queue_mappings
        assert mapping.batch_size == 10
        return
    with pytest.raises(TemplateError, match=refused):
        load_app(path)


def test_subscriptions_from_resources_topics_and_sns_events(tmp_path: Path) -> None:
    topic_with_list = {
        "Type": "AWS::SNS::Topic",
        "Properties": {
            "Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Jobs", "Arn"]}}]
        },
    }
    app = load_app(
        write(
            tmp_path,
            resources(
                Alerts=topic_with_list,
                Sub={
                    "Type": "AWS::SNS::Subscription",
                    "Properties": {
                        "TopicArn": {"Ref": "News"},
                        "Protocol": "sqs",
                        "Endpoint": {"Fn::GetAtt": ["Dead", "Arn"]},
                        "RawMessageDelivery": True,
                        "FilterPolicy": {"kind": ["a"]},
                    },
                },
                Mail={
                    "Type": "AWS::SNS::Subscription",
                    "Properties": {
                        "TopicArn": {"Ref": "News"},
                        "Protocol": "email",
                        "Endpoint": "a@example.com",
                    },
                },
                Reader=fn(
                    Events={"Read": {"Type": "SNS", "Properties": {"Topic": {"Ref": "News"}}}}
                ),
            ),
        )
    )
    by_name = {s.name: s for s in app.subscriptions}
    assert by_name["Reader.Read"].protocol == "lambda"
    assert by_name["Reader.Read"].endpoint == "Reader"
    assert by_name["Reader.Read"].topic == "News"
    assert by_name["Sub"].attributes == {
        "RawMessageDelivery": "true",
        "FilterPolicy": '{"kind":["a"]}',
    }
    assert by_name["Alerts.Subscription0"].endpoint == app.queues["Jobs"].arn
    assert ("Mail", "email subscription") in app.unsupported
