"""Lambda event filtering of stream records (``FilterCriteria``, ``dynamodb.filters``):
the matchers Lambda documents, over records in DynamoDB JSON, and patterns refused when the
template is read.

AWS: *Lambda event filtering* (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)
says Lambda's rules are EventBridge's; *Content filtering in Amazon EventBridge event patterns*
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html)
says numeric matching works only on JSON numbers and exists matching only on leaf nodes; *Using
event filtering with a DynamoDB event source*
(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html) shows ``exists`` applied
to the type key (``{"S": [{"exists": true}]}``), since the attribute itself is an intermediate
node of DynamoDB JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hubbub.runtime.cloudformation import TemplateError, load_app
from hubbub.runtime.dynamodb.filters import FilterError, compile_filters, matches, matches_any
from tests.unit.runtime.cloudformation.builders import fn, stream_event

RECORD: dict[str, Any] = {
    "eventName": "INSERT",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "SizeBytes": 26,
        "Keys": {"pk": {"S": "ROOM#lobby"}, "sk": {"S": "MSG#0001"}},
        "NewImage": {
            "pk": {"S": "ROOM#lobby"},
            "sk": {"S": "MSG#0001"},
            "kind": {"S": "msg"},
            "size": {"N": "42"},
            "flag": {"BOOL": True},
            "tags": {"SS": ["a", "b"]},
            "orgs": {"L": [{"S": "acme"}, {"S": "globex"}]},
        },
    },
}


def new_image(**leaf: Any) -> dict[str, Any]:
    return {"dynamodb": {"NewImage": leaf}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY", "INSERT"]}, True),
        ({"eventName": ["REMOVE"]}, False),
        (new_image(kind={"S": ["msg"]}), True),
        (new_image(sk={"S": [{"prefix": "MSG#"}]}), True),
        (new_image(sk={"S": [{"prefix": "CONN#"}]}), False),
        (new_image(sk={"S": [{"suffix": "0001"}]}), True),
        (new_image(kind={"S": [{"equals-ignore-case": "MSG"}]}), True),
        (new_image(kind={"S": [{"anything-but": ["conn", "head"]}]}), True),
        (new_image(kind={"S": [{"anything-but": "msg"}]}), False),
        (new_image(sk={"S": [{"anything-but": {"prefix": "MSG#"}}]}), False),
        # numbers: numeric and number literals match JSON numbers only; DynamoDB's N is a string
        ({"dynamodb": {"SizeBytes": [{"numeric": [">", 10, "<=", 26]}]}}, True),
        ({"dynamodb": {"SizeBytes": [{"numeric": ["=", 27]}]}}, False),
        ({"dynamodb": {"SizeBytes": [26]}}, True),
        ({"dynamodb": {"SizeBytes": [26.0]}}, False),  # 26 and 26.0 are not equal
        ({"dynamodb": {"SizeBytes": ["26"]}}, False),
        (new_image(size={"N": [{"numeric": [">", 10, "<=", 42]}]}), False),
        (new_image(size={"N": [{"numeric": ["=", 42]}]}), False),
        (new_image(size={"N": [42]}), False),
        (new_image(size={"N": ["42"]}), True),
        (new_image(size={"N": [{"prefix": "4"}]}), True),
        (new_image(size={"N": [{"anything-but": 42}]}), True),  # "42" is not the number 42
        (new_image(flag={"BOOL": [True]}), True),
        (new_image(flag={"BOOL": [False]}), False),
        (new_image(tags={"SS": ["b"]}), True),  # an array matches when one element does
        (new_image(tags={"SS": [{"exists": True}]}), True),  # an array of scalars is a leaf
        (new_image(orgs={"L": {"S": ["globex"]}}), True),  # one object of an array matches
        (new_image(orgs={"L": {"S": ["initech"]}}), False),
        (new_image(orgs={"L": {"S": [{"exists": True}]}}), True),
        # exists: leaves only
        (new_image(missing=[{"exists": False}]), True),
        (new_image(kind={"S": [{"exists": True}]}), True),
        (new_image(kind=[{"exists": True}]), False),  # {"S": ...} is not a leaf
        (new_image(orgs=[{"exists": True}]), False),
        (new_image(kind=[{"exists": False}]), True),  # no leaf at an intermediate node
        (new_image(kind={"S": [{"exists": False}]}), False),
        (new_image(missing={"S": [{"exists": False}]}), True),  # absent parent: no leaf
        ({"dynamodb": {"OldImage": {"kind": {"S": [{"exists": False}]}}}}, True),
        (new_image(missing={"S": [{"exists": True}]}), False),
        (new_image(missing=[{"exists": True}]), False),
        (new_image(missing={"S": ["x"]}), False),
        (new_image(missing={"S": [{"anything-but": "x"}]}), False),
        ({"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": ["ROOM#other"]}}}}, False),
    ],
)
def test_a_pattern_matches_as_lambda_matches(pattern: dict[str, Any], expected: bool) -> None:
    assert compile_filters({"Filters": [{"Pattern": json.dumps(pattern)}]}, "t") == (pattern,)
    assert matches(pattern, RECORD) is expected


def test_filters_are_alternatives_and_none_means_everything() -> None:
    first, second = {"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}
    assert matches_any((first, second), RECORD)
    assert not matches_any((first,), RECORD)
    assert matches_any((), RECORD)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '["a list"]',
        '{"eventName": "INSERT"}',
        '{"eventName": [{"regex": ".*"}]}',
        '{"eventName": [{"prefix": 1}]}',
        '{"n": [{"numeric": [">"]}]}',
        '{"n": [{"numeric": ["~", 1]}]}',
        '{"n": [{"exists": "yes"}]}',
    ],
)
def test_a_malformed_pattern_is_refused(raw: str) -> None:
    with pytest.raises(FilterError):
        compile_filters({"Filters": [{"Pattern": raw}]}, "Fn.Stream")


def test_more_than_five_filters_are_refused() -> None:
    with pytest.raises(FilterError):
        compile_filters({"Filters": [{"Pattern": "{}"}] * 6}, "Fn.Stream")


def test_the_template_mapping_carries_its_filters_and_refuses_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()

    def template(pattern: str) -> Path:
        body = {
            "Resources": {
                "Table": {
                    "Type": "AWS::DynamoDB::Table",
                    "Properties": {
                        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                        "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                    },
                },
                "Fn": fn(
                    CodeUri="code",
                    Events={
                        "Stream": stream_event(
                            "Table", FilterCriteria={"Filters": [{"Pattern": pattern}]}
                        )
                    },
                ),
            }
        }
        path = tmp_path / "template.yaml"
        path.write_text(yaml.safe_dump(body))
        return path

    (mapping,) = load_app(template('{"eventName": ["INSERT"]}')).mappings
    assert mapping.filters == ({"eventName": ["INSERT"]},)
    with pytest.raises(TemplateError, match=r"Fn\.Stream"):
        load_app(template('{"eventName": "INSERT"}'))
