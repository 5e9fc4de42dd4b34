"""CloudFormation intrinsics as the local runtime resolves them (``cloudformation.intrinsics``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from hubbub.runtime.cloudformation.intrinsics import NO_VALUE, Resolver, TemplateError, local_api_id

REGION = "eu-west-1"
ACCOUNT = "111122223333"
STACK = "demo"

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "ws"},
        "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Retention": {"Type": "Number", "Default": 60},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b,c"},
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 128}, "prod": {"Memory": 1024}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]},
    },
    "Resources": {
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler"}},
        "NamedFn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"FunctionName": {"Fn::Sub": "${AWS::StackName}-named"}},
        },
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "chat"}},
        "Anon": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Ws": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
        "Http": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "news"}},
        "SamHttp": {"Type": "AWS::Serverless::HttpApi", "Properties": {}},
        "SamRest": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod"}},
    },
}


def resolver(template: dict[str, Any] | None = None, **params: str) -> Resolver:
    return Resolver(
        TEMPLATE if template is None else template,
        params,
        region=REGION,
        account_id=ACCOUNT,
        stack_name=STACK,
    )


@pytest.fixture
def r() -> Resolver:
    return resolver()


# -- Ref ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Stage", "ws"),
        ("Retention", 60),
        ("Zones", ["a", "b", "c"]),
        ("AWS::Region", REGION),
        ("AWS::AccountId", ACCOUNT),
        ("AWS::StackName", STACK),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("Table", "chat"),
        ("NamedFn", "demo-named"),
        ("Fn", "demo-Fn"),
        ("Anon", "demo-Anon"),
        ("Ws", local_api_id("Ws")),
        ("SamHttp", local_api_id("SamHttp")),
        ("SamRest", local_api_id("SamRest")),
        ("Queue", f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/demo-Queue"),
        ("Topic", f"arn:aws:sns:{REGION}:{ACCOUNT}:news"),
    ],
)
def test_ref_names_parameters_pseudo_parameters_and_resources(
    r: Resolver, name: str, expected: object
) -> None:
    """Ref gives a parameter's value, a pseudo parameter's, or a resource's physical name;
    for a queue its URL and for a topic its ARN, as CloudFormation's Ref of AWS::SQS::Queue and
    AWS::SNS::Topic return (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html#aws-resource-sqs-queue-return-values);
    for a SAM HTTP or REST API its id, which its execute-api URL starts with (SAM's
    AWS::Serverless::HttpApi and Api return values)."""
    assert r.resolve({"Ref": name}) == expected


def test_the_stack_id_pseudo_parameter_is_an_arn_of_this_stack(r: Resolver) -> None:
    """AWS::StackId is a CloudFormation stack ARN in the region and account given."""
    stack_id = r.resolve({"Ref": "AWS::StackId"})
    assert stack_id.startswith(f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/")


def test_an_override_replaces_a_parameter_default() -> None:
    """A parameter override wins over the Default."""
    assert resolver(Stage="live").resolve({"Ref": "Stage"}) == "live"


def test_api_ids_are_stable_and_shaped_like_api_gateways() -> None:
    """A local API id is 10 lowercase alphanumerics, the same for the same logical id."""
    assert local_api_id("Ws") == local_api_id("Ws")
    assert local_api_id("Ws") != local_api_id("Other")
    assert len(local_api_id("Ws")) == 10
    assert local_api_id("Ws").isalnum()


def test_ref_to_an_unknown_resource_is_a_template_error(r: Resolver) -> None:
    """A Ref to nothing declared says so."""
    with pytest.raises(TemplateError, match="Missing"):
        r.resolve({"Ref": "Missing"})


# -- parameters -----------------------------------------------------------------------------


def test_a_value_outside_allowed_values_is_a_template_error() -> None:
    """An override not in AllowedValues is refused, naming the parameter."""
    with pytest.raises(TemplateError, match="Env"):
        resolver(Env="staging")


def test_an_allowed_value_is_accepted() -> None:
    """An override listed in AllowedValues is used (and drives the conditions)."""
    assert resolver(Env="prod").conditions["IsProd"] is True


def test_a_parameter_without_default_or_override_is_a_template_error() -> None:
    """A parameter with no Default must be given."""
    template = {"Parameters": {"Secret": {"Type": "String"}}, "Resources": {}}
    with pytest.raises(TemplateError, match="Secret"):
        resolver(template)
    assert resolver(template, Secret="s").resolve({"Ref": "Secret"}) == "s"


def test_an_override_of_an_undeclared_parameter_is_a_template_error() -> None:
    """Overriding a parameter the template does not declare is refused."""
    with pytest.raises(TemplateError, match="Typo"):
        resolver(Typo="x")


# -- GetAtt ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (["Fn", "Arn"], f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-Fn"),
        ("Fn.Arn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-Fn"),
        (["NamedFn", "Arn"], f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-named"),
        (["Table", "Arn"], f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/chat"),
        (
            ["Table", "StreamArn"],
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/chat/stream/1970-01-01T00:00:00.000",
        ),
        (
            ["Ws", "ApiEndpoint"],
            f"wss://{local_api_id('Ws')}.execute-api.{REGION}.amazonaws.com",
        ),
        (
            ["Http", "ApiEndpoint"],
            f"https://{local_api_id('Http')}.execute-api.{REGION}.amazonaws.com",
        ),
        (["Ws", "ApiId"], local_api_id("Ws")),
        (["Queue", "Arn"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:demo-Queue"),
        (["Queue", "QueueName"], "demo-Queue"),
        (["Queue", "QueueUrl"], f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/demo-Queue"),
        (["Topic", "TopicArn"], f"arn:aws:sns:{REGION}:{ACCOUNT}:news"),
        (["Topic", "TopicName"], "news"),
    ],
)
def test_get_att_gives_aws_shaped_attributes(r: Resolver, target: object, expected: str) -> None:
    """Fn::GetAtt (list or dotted form) yields the ARNs and endpoints AWS would give."""
    assert r.resolve({"Fn::GetAtt": target}) == expected


def test_get_att_of_an_unknown_resource_is_a_template_error(r: Resolver) -> None:
    """GetAtt of an undeclared resource says so."""
    with pytest.raises(TemplateError, match="Nope"):
        r.resolve({"Fn::GetAtt": ["Nope", "Arn"]})


# -- Sub ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("${Stage}", "ws"),
        ("${AWS::Region}/${AWS::AccountId}", f"{REGION}/{ACCOUNT}"),
        ("${Table}", "chat"),
        ("${Fn.Arn}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-Fn"),
        ("${Table.StreamArn}",
         f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/chat/stream/1970-01-01T00:00:00.000"),
        ("${!Literal}", "${Literal}"),
        ("a-${!Stage}-${Stage}", "a-${Stage}-ws"),
        ("https://${Ws}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}",
         f"https://{local_api_id('Ws')}.execute-api.{REGION}.amazonaws.com/ws"),
    ],
)  # fmt: skip
def test_sub_substitutes_parameters_resources_and_attributes(
    r: Resolver, text: str, expected: str
) -> None:
    """Fn::Sub fills ${Param}, ${Resource}, ${Resource.Attr} and keeps ${!Literal} literal."""
    assert r.resolve({"Fn::Sub": text}) == expected


def test_sub_with_a_variable_map_prefers_the_map(r: Resolver) -> None:
    """The two-argument form resolves its own variables first, then the template's."""
    value = r.resolve(
        {"Fn::Sub": ["${Stage}-${Name}-${Arn}", {"Stage": "mine", "Name": {"Ref": "Table"},
                                                  "Arn": {"Fn::GetAtt": ["Fn", "Arn"]}}]}
    )  # fmt: skip
    assert value == f"mine-chat-arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-Fn"


def test_sub_of_an_unknown_name_is_a_template_error(r: Resolver) -> None:
    """A ${Name} that is neither a variable, a parameter nor a resource is refused."""
    with pytest.raises(TemplateError, match="Ghost"):
        r.resolve({"Fn::Sub": "x-${Ghost}"})


# -- other functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]}, "a-ws-3"),
        ({"Fn::Join": ["", []]}, ""),
        ({"Fn::Select": [1, ["x", "y", "z"]]}, "y"),
        ({"Fn::Select": ["0", {"Ref": "Zones"}]}, "a"),
        ({"Fn::Split": [",", "a,b,,c"]}, ["a", "b", "", "c"]),
        ({"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::Sub": "x/${Stage}/z"}]}]}, "z"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}, 128),
        ({"Fn::Base64": "hello"}, base64.b64encode(b"hello").decode()),
        ({"Fn::Base64": {"Fn::Sub": "${Stage}"}}, base64.b64encode(b"ws").decode()),
        ({"Fn::GetAZs": ""}, [f"{REGION}a", f"{REGION}b", f"{REGION}c"]),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"Fn::If": ["IsDev", {"Ref": "Stage"}, "no"]}, "ws"),
        ({"Fn::Equals": ["a", "a"]}, True),
        ({"Fn::Equals": [{"Ref": "Retention"}, "60"]}, True),
        ({"Fn::Not": [{"Fn::Equals": ["a", "b"]}]}, True),
        ({"Fn::And": [True, {"Condition": "IsDev"}]}, True),
        ({"Fn::Or": [False, {"Condition": "IsProd"}]}, False),
        ({"Condition": "IsDev"}, True),
    ],
)
def test_functions_evaluate_as_cloudformation_does(
    r: Resolver, expression: dict[str, Any], expected: object
) -> None:
    """Join, Select, Split, FindInMap, Base64, GetAZs, If and the condition functions."""
    assert r.resolve(expression) == expected


def test_conditions_are_evaluated_from_parameters() -> None:
    """Conditions follow the parameter values: dev by default, prod when overridden."""
    dev, prod = resolver().conditions, resolver(Env="prod").conditions
    assert dev == {"IsProd": False, "IsDev": True, "Both": False, "Either": True}
    assert prod == {"IsProd": True, "IsDev": False, "Both": False, "Either": True}
    assert resolver(Env="prod").resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"


def test_no_value_removes_a_property(r: Resolver) -> None:
    """AWS::NoValue drops the key it is the value of, directly or through Fn::If."""
    resolved = r.resolve(
        {
            "Keep": 1,
            "Drop": {"Ref": "AWS::NoValue"},
            "Maybe": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]},
            "Nested": {"Inner": {"Ref": "AWS::NoValue"}, "Other": 2},
        }
    )
    assert resolved == {"Keep": 1, "Nested": {"Other": 2}}


def test_no_value_removes_a_list_item(r: Resolver) -> None:
    """AWS::NoValue inside a list drops that item."""
    assert r.resolve(["a", {"Ref": "AWS::NoValue"}, "b"]) == ["a", "b"]
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_plain_values_resolve_to_themselves(r: Resolver) -> None:
    """Strings, numbers, lists and maps without intrinsics come back unchanged."""
    value = {"A": [1, "two", {"B": None}], "C": True}
    assert r.resolve(value) == value


def test_an_unsupported_function_is_a_template_error(r: Resolver) -> None:
    """A function the local runtime does not implement is refused by name."""
    with pytest.raises(TemplateError, match="ImportValue"):
        r.resolve({"Fn::ImportValue": "shared-thing"})


def test_a_condition_may_refer_to_one_declared_after_it() -> None:
    """Conditions may name each other in any order, as in CloudFormation."""
    template: dict[str, Any] = {
        "Conditions": {
            "First": {"Fn::Not": [{"Condition": "Second"}]},
            "Second": {"Fn::Equals": ["a", "b"]},
        },
        "Resources": {},
    }
    assert resolver(template).conditions == {"First": True, "Second": False}
