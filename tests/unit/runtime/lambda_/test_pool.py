"""Lambda execution environments (``runtime.lambda_.pool`` and ``worker``), run for real.

Each test writes a small handler module and runs it in worker processes, as ``hubbub serve``
does. A handler that sleeps at import or in its body is the system under test, not a wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hubbub.runtime.cloudformation import FunctionSpec
from hubbub.runtime.lambda_.pool import FunctionPool
from tests.support.waiting import eventually

HANDLERS = """
import os, time
from pathlib import Path

def context(event, context):
    return {
        "memory": context.memory_limit_in_mb,
        "identity": [
            context.identity.cognito_identity_id,
            context.identity.cognito_identity_pool_id,
        ],
        "identityType": type(context.identity).__name__,
        "clientContext": context.client_context,
        "tenant": context.tenant_id,
        "name": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "requestId": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "tz": os.environ.get("TZ"),
        "streamEnv": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "localtime": time.strftime("%z"),
    }

def fail(event, context):
    raise ValueError("no")

def hold(event, context):
    gate = Path(event["gate"])
    deadline = time.monotonic() + 5
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"
"""

SLOW_INIT = """
import os, time
time.sleep(float(os.environ["IMPORT_SECONDS"]))

def handler(event, context):
    return "ran"
"""

BROKEN = """
import not_a_module_anywhere_xyz

def handler(event, context):
    return "never"
"""


def spec(
    code: Path,
    handler: str,
    *,
    timeout_s: float = 3.0,
    reserved: int | None = None,
    environment: dict[str, str] | None = None,
) -> FunctionSpec:
    return FunctionSpec(
        logical_id="Probe",
        name="local-Probe",
        arn="arn:aws:lambda:us-east-1:123456789012:function:local-Probe",
        handler=handler,
        code_dir=code,
        runtime="python3.12",
        timeout_s=timeout_s,
        memory_mb=256,
        environment=environment or {},
        reserved_concurrency=reserved,
    )


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    (tmp_path / "slow_init.py").write_text(SLOW_INIT)
    (tmp_path / "broken.py").write_text(BROKEN)
    return tmp_path


PoolFactory = Callable[..., FunctionPool]


@pytest.fixture
async def make_pool() -> AsyncIterator[PoolFactory]:
    pools: list[FunctionPool] = []

    def make(fn: FunctionSpec, **kwargs: float) -> FunctionPool:
        pool = FunctionPool(fn, runtime_env={}, max_workers=2, region="us-east-1", **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


async def test_the_context_object_is_the_python_runtimes(
    code: Path, make_pool: PoolFactory
) -> None:
    """AWS: Lambda developer guide, *Using the Lambda context object to retrieve Python function
    information*; the attributes as ``awslambdaric``'s ``LambdaContext`` sets them (memory from
    the environment, a string; ``identity`` an object with None ids; no client context).
    *Defined runtime environment variables*: ``TZ`` is ``:UTC``, the log stream is
    ``YYYY/MM/DD/[$LATEST]<32 hex>``, ``_X_AMZN_TRACE_ID`` an X-Ray header per invocation."""
    pool = make_pool(spec(code, "handlers.context"))
    result = await pool.invoke({})
    assert result.ok, result.payload
    got = result.payload
    assert got["memory"] == "256"
    assert got["identity"] == [None, None]
    assert got["identityType"] == "CognitoIdentity"
    assert got["clientContext"] is None and got["tenant"] is None
    assert got["name"] == "local-Probe" and got["version"] == "$LATEST"
    assert got["arn"].endswith(":function:local-Probe")
    assert got["group"] == "/aws/lambda/local-Probe"
    assert got["requestId"] == result.request_id
    assert 0 < got["remaining"] <= 3000
    assert got["tz"] == ":UTC" and got["localtime"] == "+0000"
    assert got["stream"] == got["streamEnv"]
    assert got["stream"][:10].count("/") == 2 and "/[$LATEST]" in got["stream"]
    assert len(got["stream"].rsplit("]", 1)[1]) == 32
    assert got["trace"].startswith("Root=1-") and ";Parent=" in got["trace"]
    second = await pool.invoke({})
    assert second.payload["trace"] != got["trace"]
    assert second.payload["stream"] == got["stream"]  # one stream per environment


async def test_a_template_may_set_its_own_time_zone(code: Path, make_pool: PoolFactory) -> None:
    """AWS: *Defined runtime environment variables*: ``TZ`` is not a reserved key."""
    pool = make_pool(spec(code, "handlers.context", environment={"TZ": "Asia/Tokyo"}))
    result = await pool.invoke({})
    assert result.payload["tz"] == "Asia/Tokyo"


async def test_an_import_error_answers_and_logs_as_lambda(
    code: Path, make_pool: PoolFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """AWS: the Python runtime (``awslambdaric`` bootstrap) answers an init failure with
    ``Runtime.ImportModuleError`` and "Unable to import module '<module>': No module named
    '<name>'", logged as ``[ERROR] Runtime.ImportModuleError: ...``; the invocation has its
    START, END and REPORT lines (*Working with Lambda function logs*)."""
    pool = make_pool(spec(code, "broken.handler"))
    with caplog.at_level(logging.INFO, logger="hubbub.lambda"):
        result = await pool.invoke({})
        message = "Unable to import module 'broken': No module named 'not_a_module_anywhere_xyz'"
        assert not result.ok
        assert result.payload == {
            "errorMessage": message,
            "errorType": "Runtime.ImportModuleError",
            "requestId": "",
            "stackTrace": [],
        }
        rid = result.request_id
        await eventually(
            lambda: f"[ERROR] Runtime.ImportModuleError: {message}" in caplog.text,
            what="the import error logged",
        )
    lines = caplog.text
    assert f"START RequestId: {rid} Version: $LATEST" in lines
    assert f"END RequestId: {rid}" in lines
    assert "ErrorType: Runtime.ImportModuleError" in lines.split(f"REPORT RequestId: {rid}")[1]


async def test_a_handler_missing_from_its_module_is_handler_not_found(
    code: Path, make_pool: PoolFactory
) -> None:
    """AWS: the Python runtime's ``Runtime.HandlerNotFound`` ("Handler 'x' missing on module")."""
    result = await make_pool(spec(code, "handlers.nope")).invoke({})
    assert result.payload["errorType"] == "Runtime.HandlerNotFound"
    assert result.payload["errorMessage"] == "Handler 'nope' missing on module 'handlers'"


async def test_init_past_the_limit_is_retried_within_the_function_timeout(
    code: Path, make_pool: PoolFactory
) -> None:
    """AWS: *Understanding the Lambda execution environment lifecycle*, Init phase: init is
    limited (10 s); past it Lambda retries init in the first invocation, under the function's
    timeout. Here the limit is 0.3 s and the import takes 0.6 s: the retried init fits in a
    3 s Timeout and the handler runs."""
    fn = spec(code, "slow_init.handler", environment={"IMPORT_SECONDS": "0.6"})
    pool = make_pool(fn, init_limit_s=0.3)
    result = await pool.invoke({})
    assert result.ok and result.payload == "ran"
    assert result.init_ms is None  # init ran inside the invocation
    assert result.duration_ms >= 0


async def test_init_past_the_limit_and_the_timeout_times_the_invocation_out(
    code: Path, make_pool: PoolFactory
) -> None:
    """AWS: as above; a retried init that outlives the function's Timeout ends the invocation
    with ``Sandbox.Timedout``, so a slow import never runs unbounded."""
    fn = spec(code, "slow_init.handler", timeout_s=0.5, environment={"IMPORT_SECONDS": "5"})
    pool = make_pool(fn, init_limit_s=0.3)
    result = await pool.invoke({})
    assert not result.ok
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert pool.timeouts == 1 and pool.size == 0


async def test_reserved_concurrency_zero_throttles_every_invocation(
    code: Path, make_pool: PoolFactory
) -> None:
    """AWS: *Configuring reserved concurrency*: reserved concurrency 0 stops every invocation,
    throttled with ``TooManyRequestsException`` (429)."""
    pool = make_pool(spec(code, "handlers.context", reserved=0))
    for _ in range(3):
        result = await pool.invoke({})
        assert result.throttled and not result.ok
        assert result.payload["errorType"] == "TooManyRequestsException"
    assert pool.throttles == 3 and pool.invocations == 0 and pool.cold_starts == 0


async def test_over_the_reserved_concurrency_lambda_throttles_instead_of_queueing(
    code: Path, make_pool: PoolFactory, tmp_path: Path
) -> None:
    """AWS: *Lambda function scaling* and *Configuring reserved concurrency*: no more than the
    reserved number of environments run the function; a request beyond it is throttled at once
    (``TooManyRequestsException``, reason ``ReservedFunctionConcurrentInvocationLimitExceeded``)."""
    pool = make_pool(spec(code, "handlers.hold", reserved=1))
    gate = tmp_path / "gate"
    first = asyncio.create_task(pool.invoke({"gate": str(gate)}))
    await eventually(lambda: pool.size == 1, what="the first invocation holding the environment")
    second = await pool.invoke({"gate": str(gate)})
    assert second.throttled
    assert second.payload["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    gate.touch()
    assert (await first).payload == "released"
    third = await pool.invoke({"gate": str(gate)})
    assert third.ok and third.payload == "released"


async def test_a_large_runtime_process_does_not_make_its_workers_run_out_of_memory(
    code: Path, make_pool: PoolFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Linux hands a child the parent's peak RSS in ``ru_maxrss`` across fork and exec: a runtime
    (or this test process) of more than MemorySize made every invocation end in
    ``Runtime.OutOfMemory`` before the handler had used anything. The worker measures its own
    address space instead. AWS: *Configuring Lambda function memory* (an environment is held to
    its MemorySize, and only its own use counts)."""
    ballast = bytearray(400 * 1024 * 1024)  # this process now peaks above the function's 256 MB
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    pool = make_pool(spec(code, "handlers.context"))
    with caplog.at_level(logging.INFO):
        result = await pool.invoke({})
    del ballast
    assert result.ok, result.payload
    (report,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("REPORT")]
    used = int(report.split("Max Memory Used: ")[1].split()[0])
    assert 0 < used < 256


def _lifecycle(caplog: pytest.LogCaptureFixture, rid: str) -> dict[str, int]:
    """The level of each of the invocation's lines: START, END and REPORT."""
    levels: dict[str, int] = {}
    for record in caplog.records:
        message = record.getMessage()
        for kind in ("START", "END", "REPORT"):
            if message.startswith(f"{kind} RequestId: {rid}"):
                assert record.name == "hubbub.lambda.local-Probe", "under the function's logger"
                levels[kind] = record.levelno
    return levels


async def test_info_logs_cold_starts_and_failures_and_debug_every_invocation(
    code: Path, make_pool: PoolFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """CloudWatch has START, END and REPORT for every invocation (*Working with Lambda function
    logs*); locally, INFO keeps those of cold starts and failures, DEBUG all of them."""
    pool = make_pool(spec(code, "handlers.context"))
    failing = make_pool(spec(code, "handlers.fail"))
    with caplog.at_level(logging.DEBUG, logger="hubbub.lambda"):
        cold = await pool.invoke({})
        warm = await pool.invoke({})
        await failing.invoke({})  # a cold start, which fails
        failed = await failing.invoke({})  # warm, and fails
    info, debug = logging.INFO, logging.DEBUG
    assert _lifecycle(caplog, cold.request_id) == {"START": info, "END": info, "REPORT": info}
    assert _lifecycle(caplog, warm.request_id) == {"START": debug, "END": debug, "REPORT": debug}
    assert not failed.ok
    assert _lifecycle(caplog, failed.request_id) == {"START": debug, "END": info, "REPORT": info}
