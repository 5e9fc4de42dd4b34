"""Reading functions (``cloudformation.functions``): handlers, code, Globals, environment, and the
templates whose functions cannot run locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation import AppSpec, TemplateError, load_app
from tests.unit.runtime.cloudformation.builders import ACCOUNT, REGION, REPO, WS_API_ID, fn, write

# -- the project's template -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical_id", "handler"),
    [
        ("ConnectFunction", "hubbub.handlers.connect.handler"),
        ("DisconnectFunction", "hubbub.handlers.disconnect.handler"),
        ("MessageFunction", "hubbub.handlers.message.handler"),
        ("FanOutFunction", "hubbub.handlers.stream.handler"),
    ],
)
def test_each_function_has_its_handler_code_and_arn(
    app: AppSpec, logical_id: str, handler: str
) -> None:
    """Each WebSocket and stream function is read with its handler string, code dir and ARN."""
    fn = app.functions[logical_id]
    assert fn.handler == handler
    assert fn.code_dir == REPO / "src"
    assert fn.name == f"local-{logical_id}"
    assert fn.arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:local-{logical_id}"


def test_globals_are_merged_into_every_function(app: AppSpec, raw: dict[str, Any]) -> None:
    """Runtime, memory, timeout and environment come from Globals unless a function overrides."""
    globals_fn = raw["Globals"]["Function"]
    for spec in app.functions.values():
        assert spec.runtime == globals_fn["Runtime"]
        assert spec.memory_mb == globals_fn["MemorySize"]
        assert set(globals_fn["Environment"]["Variables"]) <= set(spec.environment)
    assert app.functions["ConnectFunction"].timeout_s == globals_fn["Timeout"]
    assert app.functions["FanOutFunction"].timeout_s == 30


def test_environment_variables_are_resolved_to_strings(app: AppSpec) -> None:
    """Refs and Subs in the environment become the strings a Lambda would see."""
    env = app.functions["MessageFunction"].environment
    assert env["TABLE_NAME"] == "local-ChatTable"
    assert env["ROOM_RETENTION_SECONDS"] == "86400"
    assert env["DESK_RETENTION_SECONDS"] == "2592000"
    assert env["CONNECTIONS_URL"] == f"https://{WS_API_ID}.execute-api.{REGION}.amazonaws.com/ws"
    assert env["POWERTOOLS_SERVICE_NAME"] == "hubbub"
    assert all(isinstance(v, str) for v in env.values())


# -- small templates ------------------------------------------------------------------------


def test_a_functions_own_environment_overrides_globals(tmp_path: Path) -> None:
    """Globals' variables are kept, and a function's own variable of the same name wins."""
    path = write(
        tmp_path,
        {"Fn": fn(Environment={"Variables": {"B": "own", "C": True, "D": 5}})},
        Globals={
            "Function": {
                "CodeUri": "code/",
                "Timeout": 7,
                "Environment": {"Variables": {"A": "global", "B": "global"}},
            }
        },
    )
    spec = load_app(path).functions["Fn"]
    assert spec.environment == {"A": "global", "B": "own", "C": "true", "D": "5"}
    assert spec.timeout_s == 7
    assert spec.runtime == "python3.12"
    assert spec.memory_mb == 128
    assert spec.architecture == "x86_64"  # Lambda's default


def test_the_architecture_comes_from_globals_or_the_function(tmp_path: Path) -> None:
    """AWS: ``Architectures`` is a list of one, ``x86_64`` (the default) or ``arm64``; what
    ``sam build`` installs requirements for, so what a function's artefact holds."""
    path = write(
        tmp_path,
        {"Arm": fn(), "Intel": fn(Architectures=["x86_64"])},
        Globals={"Function": {"CodeUri": "code/", "Architectures": ["arm64"]}},
    )
    functions = load_app(path).functions
    assert functions["Arm"].architecture == "arm64"
    assert functions["Intel"].architecture == "x86_64"


def test_a_plain_lambda_function_takes_no_globals(tmp_path: Path) -> None:
    """Globals apply to AWS::Serverless::Function only."""
    path = write(
        tmp_path,
        {
            "Plain": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "app.handler",
                    "CodeUri": "code/",
                    "Runtime": "python3.11",
                },
            }
        },
        Globals={"Function": {"Timeout": 9, "MemorySize": 512}},
    )
    spec = load_app(path).functions["Plain"]
    assert spec.timeout_s == 3
    assert spec.memory_mb == 128
    assert spec.runtime == "python3.11"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        pytest.param(
            {"Fn": fn(Environment={"Variables": {"T": {"Ref": "Nope"}}})},
            "Nope",
            id="a reference to an unknown resource",
        ),
        pytest.param({"Fn": fn(Runtime="nodejs20.x")}, "Python", id="a non-Python runtime"),
        pytest.param({"Fn": fn(CodeUri="missing/")}, "CodeUri", id="a missing CodeUri directory"),
        pytest.param(
            {"Fn": fn(CodeUri={"Bucket": "b", "Key": "k"})}, "CodeUri", id="an S3 CodeUri"
        ),
        pytest.param({"Fn": fn(Handler="handler")}, "Handler", id="a handler without a module"),
        pytest.param(
            {"Fn": fn(Architectures=["arm64", "x86_64"])},
            "Architectures",
            id="two architectures",
        ),
        pytest.param({"Fn": fn(Architectures=["i386"])}, "Architectures", id="an unknown one"),
    ],
)
def test_templates_that_cannot_run_are_refused_with_the_reason(
    tmp_path: Path, resources: dict[str, Any], message: str
) -> None:
    """A template the runtime cannot run raises TemplateError naming what is wrong."""
    with pytest.raises(TemplateError, match=message):
        load_app(write(tmp_path, resources))
