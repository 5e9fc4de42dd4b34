"""Property-based fuzzing of the REST command channel: any request gets a typed JSON answer below
500, never a crash or a stack trace, and the server stays healthy."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.server import ServerProcess

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
bodies = (
    st.fixed_dictionaries({}, optional={"topic": json_value | st.text(), "text": json_value}).map(
        json.dumps
    )
    | json_value.map(json.dumps)
    | st.text(max_size=100)
    | st.just("{" * 3000)
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
query_values = st.text(max_size=30) | st.integers(-5, 10**12).map(str)


def call(
    server: ServerProcess, method: str, path: str, body: str | None, headers: dict[str, str]
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{server.base_url}{path}",
        data=None if body is None else body.encode(),
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        payload = error.read()
        error.close()
        return error.code, json.loads(payload)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies,
    key=header_values,
    auth=st.none() | header_values.map(lambda v: f"Bearer {v}") | header_values,
)
def test_posting_anything_gets_a_typed_answer(
    server: ServerProcess, body: str, key: str, auth: str | None
) -> None:
    headers = {"Idempotency-Key": key} if key else {}
    if auth is not None:
        headers["Authorization"] = auth
    status, payload = call(server, "POST", "/api/messages", body, headers)
    assert status < 500, payload
    assert isinstance(payload, dict)
    assert "Traceback" not in json.dumps(payload)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/api/history", "/api/rooms", "/api/conversations", "/api/whoami"]),
    params=st.dictionaries(
        st.sampled_from(["topic", "before", "after", "limit", "x"]), query_values, max_size=4
    ),
)
def test_reading_with_any_query_gets_a_typed_answer(
    server: ServerProcess, path: str, params: dict[str, str]
) -> None:
    query = urllib.parse.urlencode(params)
    status, payload = call(server, "GET", f"{path}?{query}", None, {})
    assert status < 500, payload
    assert isinstance(payload, dict)


def test_the_http_function_never_failed(server: ServerProcess) -> None:
    assert server.admin("stats")["functions"]["HttpFunction"]["errors"] == 0
