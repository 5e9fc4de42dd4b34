"""Resolving CloudFormation intrinsic functions as far as local wiring needs them.

References resolve to stable, AWS-shaped local values (ARNs, API ids, table names), so a handler
that builds an ARN or reads a table name from its environment sees what it would see on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["NO_VALUE", "Resolver", "TemplateError", "local_api_id"]

NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}]+)\}")


class TemplateError(ValueError):
    """The template cannot be run: it says what and where."""


_SAM_APIS = frozenset(
    {"AWS::Serverless::WebSocketApi", "AWS::Serverless::HttpApi", "AWS::Serverless::Api"}
)


def local_api_id(logical_id: str) -> str:
    """A stable 10-character id, shaped like API Gateway's, derived from the logical id."""
    digest = hashlib.sha256(logical_id.encode()).hexdigest()
    return "".join(c for c in digest if c.isalnum())[:10]


class Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        *,
        region: str,
        account_id: str,
        stack_name: str,
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.parameters = self._parameters(parameters)
        self._condition_exprs: Mapping[str, Any] = template.get("Conditions") or {}
        self._evaluating: set[str] = set()
        self.conditions: dict[str, bool] = {}
        for name in self._condition_exprs:
            self.condition(name)

    # parameters -------------------------------------------------------------------------------
    def _parameters(self, overrides: Mapping[str, str]) -> dict[str, Any]:
        declared: Mapping[str, Any] = self.template.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(
                f"parameter overrides name undeclared parameters: {sorted(unknown)}"
            )
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                value: Any = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            allowed = spec.get("AllowedValues")
            if allowed is not None and str(value) not in [str(v) for v in allowed]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            if (
                str(spec.get("Type", "String")).startswith("List<")
                or spec.get("Type") == "CommaDelimitedList"
            ):
                value = [v.strip() for v in str(value).split(",")]
            values[name] = value
        values.update(
            {
                "AWS::Region": self.region,
                "AWS::AccountId": self.account_id,
                "AWS::StackName": self.stack_name,
                "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000",
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": NO_VALUE,
            }
        )
        return values

    def condition(self, name: str) -> bool:
        """Conditions may name each other in any order, as CloudFormation allows."""
        if name in self.conditions:
            return self.conditions[name]
        if name not in self._condition_exprs:
            raise TemplateError(f"unknown condition {name}")
        if name in self._evaluating:
            raise TemplateError(f"condition {name} depends on itself")
        self._evaluating.add(name)
        try:
            value = bool(self.resolve(self._condition_exprs[name]))
        finally:
            self._evaluating.discard(name)
        self.conditions[name] = value
        return value

    # references -------------------------------------------------------------------------------
    def physical_name(self, logical_id: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"reference to unknown resource {logical_id}")
        kind = resource.get("Type", "")
        props = resource.get("Properties") or {}
        name_prop = {
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Serverless::SimpleTable": "TableName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::S3::Bucket": "BucketName",
        }.get(kind)
        if name_prop and props.get(name_prop) is not None:
            return str(self.resolve(props[name_prop]))
        if kind in ("AWS::SQS::Queue", "AWS::SNS::Topic") and self.resolve(
            props.get("FifoQueue" if kind == "AWS::SQS::Queue" else "FifoTopic", False)
        ) in (True, "true", "True"):
            return f"{self.stack_name}-{logical_id}.fifo"
        if kind.startswith("AWS::ApiGatewayV2::") or kind in _SAM_APIS:
            return local_api_id(logical_id)  # an API's Ref is its id, which its URL starts with
        if kind == "AWS::S3::Bucket":  # bucket names are lower case (and stable across starts)
            return f"{self.stack_name}-{logical_id}".lower()
        return f"{self.stack_name}-{logical_id}"

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        kind = (self.resources.get(name) or {}).get("Type")
        if kind == "AWS::SQS::Queue":  # a queue's Ref is its URL, a topic's its ARN
            return self.get_att(name, "QueueUrl")
        if kind == "AWS::SNS::Topic":
            return self.get_att(name, "TopicArn")
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Fn::GetAtt of unknown resource {logical_id}")
        kind = resource.get("Type", "")
        name = self.physical_name(logical_id)
        region, account = self.region, self.account_id
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function") and attribute == "Arn":
            return f"arn:aws:lambda:{region}:{account}:function:{name}"
        if kind in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
            table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            if attribute == "Arn":
                return table_arn
            if attribute == "StreamArn":
                return f"{table_arn}/stream/1970-01-01T00:00:00.000"
        if kind == "AWS::ApiGatewayV2::Api":
            if attribute == "ApiEndpoint":
                props = resource.get("Properties") or {}
                scheme = "wss" if props.get("ProtocolType") == "WEBSOCKET" else "https"
                return f"{scheme}://{name}.execute-api.{region}.amazonaws.com"
            if attribute == "ApiId":
                return name
        if kind == "AWS::SQS::Queue":
            if attribute == "Arn":
                return f"arn:aws:sqs:{region}:{account}:{name}"
            if attribute == "QueueName":
                return name
            if attribute == "QueueUrl":
                return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
        if kind == "AWS::SNS::Topic":
            if attribute == "TopicArn":
                return f"arn:aws:sns:{region}:{account}:{name}"
            if attribute == "TopicName":
                return name
        if kind == "AWS::S3::Bucket":
            if attribute == "Arn":
                return f"arn:aws:s3:::{name}"
            if attribute == "DomainName":
                return f"{name}.s3.amazonaws.com"
            if attribute == "RegionalDomainName":
                return f"{name}.s3.{region}.amazonaws.com"
        return f"arn:aws:local:{region}:{account}:{logical_id}/{attribute}"

    # evaluation -------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg))
            if key == "Condition":
                return self.condition(str(arg))
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.get_att(str(self.resolve(logical_id)), str(self.resolve(attribute)))
        if name == "Sub":
            return self._sub(arg)
        if name == "Join":
            sep, items = arg
            return str(self.resolve(sep)).join(str(v) for v in self.resolve(items))
        if name == "If":
            cond, yes, no = arg
            return self.resolve(yes if self.condition(str(cond)) else no)
        if name == "Equals":
            left, right = (self.resolve(v) for v in arg)
            return str(left) == str(right)
        if name == "Not":
            return not self.resolve(arg[0])
        if name == "And":
            return all(self.resolve(v) for v in arg)
        if name == "Or":
            return any(self.resolve(v) for v in arg)
        if name == "Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Split":
            sep, text = arg
            return str(self.resolve(text)).split(str(self.resolve(sep)))
        if name == "FindInMap":
            table, key1, key2 = (self.resolve(v) for v in arg)
            return self.template["Mappings"][table][key1][key2]
        if name == "Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if name == "GetAZs":
            return [f"{self.region}{z}" for z in "abc"]
        raise TemplateError(f"Fn::{name} is not supported by the local runtime")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1])
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if token in self.parameters:
                return str(self.parameters[token])
            if "." in token:
                logical_id, attribute = token.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(token))

        return _SUB_VAR.sub(replace, str(text))
