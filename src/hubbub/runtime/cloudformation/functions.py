"""Functions: ``AWS::Serverless::Function`` (with SAM's ``Globals``) and ``AWS::Lambda::Function``
read into what a Lambda execution environment needs, and the ``Events`` of SAM functions that the
HTTP API and stream mapping readers turn into routes and mappings."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.specs import AppSpec, FunctionSpec

__all__ = [
    "FUNCTION_TYPES",
    "RESERVED_ENVIRONMENT",
    "SAM_FUNCTION",
    "function_events",
    "read_function",
    "typed_events",
]

SAM_FUNCTION = "AWS::Serverless::Function"
FUNCTION_TYPES = (SAM_FUNCTION, "AWS::Lambda::Function")

RESERVED_ENVIRONMENT = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
"""The keys Lambda's runtimes set and a function's configuration may not (*Defined runtime
environment variables*, Lambda developer guide): Lambda refuses a function that sets one, so
``hubbub serve`` refuses the template. ``TZ``, ``LANG``, ``PATH`` and the like are not reserved."""


def read_function(
    app: AppSpec,
    logical_id: str,
    resource: Mapping[str, Any],
    globals_fn: Mapping[str, Any],
    resolver: Resolver,
    inline_code_dir: Path | None,
) -> None:
    """Adds the function to ``app``; Layers are listed, since their packages are not fetched."""
    app.functions[logical_id] = _function(
        logical_id, resource, globals_fn, resolver, app.path, inline_code_dir
    )
    own = resource.get("Properties") or {}
    if own.get("Layers") or (resource["Type"] == SAM_FUNCTION and globals_fn.get("Layers")):
        app.unsupported.append((logical_id, "Layers (install their packages instead)"))


def function_events(
    app: AppSpec, logical_id: str, resource: Mapping[str, Any]
) -> list[tuple[str, Mapping[str, Any]]]:
    """The ``Events`` of a SAM function the app runs, by name; none for any other resource, for
    a plain Lambda function (it has no Events) and for a function whose Condition is false."""
    if resource.get("Type") != SAM_FUNCTION or logical_id not in app.functions:
        return []
    return list(((resource.get("Properties") or {}).get("Events") or {}).items())


def typed_events(
    app: AppSpec, resources: Mapping[str, Any], resolver: Resolver, kind: str
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every event of type ``kind`` (``Api``, ``HttpApi``, ...) of the functions the app runs:
    the function's logical id, ``Function.Event`` for messages, and the resolved Properties."""
    for logical_id, resource in resources.items():
        for event_name, event in function_events(app, logical_id, resource):
            if event.get("Type") == kind:
                props = resolver.resolve(event.get("Properties") or {})
                yield logical_id, f"{logical_id}.{event_name}", props


def _function(
    logical_id: str,
    resource: Mapping[str, Any],
    globals_fn: Mapping[str, Any],
    resolver: Resolver,
    template_path: Path,
    inline_code_dir: Path | None = None,
) -> FunctionSpec:
    props: dict[str, Any] = {}
    if resource["Type"] == SAM_FUNCTION:
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
    taken = sorted(RESERVED_ENVIRONMENT.intersection(variables))
    if taken:
        raise TemplateError(
            f"{logical_id}: Environment sets {', '.join(taken)}, reserved by Lambda "
            "(AWS refuses to deploy a function that sets them)"
        )
    reserved = props.get("ReservedConcurrentExecutions")
    if reserved is not None and int(reserved) < 0:
        raise TemplateError(f"{logical_id}: ReservedConcurrentExecutions must be 0 or more")
    architectures = props.get("Architectures") or ["x86_64"]
    if not isinstance(architectures, list) or len(architectures) != 1:
        raise TemplateError(f"{logical_id}: Architectures must list one architecture")
    if architectures[0] not in ("x86_64", "arm64"):
        raise TemplateError(
            f"{logical_id}: Architectures: {architectures[0]!r} is not x86_64 or arm64"
        )
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
        architecture=str(architectures[0]),
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
    if kind == SAM_FUNCTION:
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
