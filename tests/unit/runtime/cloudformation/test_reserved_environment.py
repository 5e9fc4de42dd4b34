"""Reserved environment variables and reserved concurrency in a template
(``runtime.cloudformation.functions``).

AWS: Lambda developer guide, *Working with Lambda environment variables*, "Defined runtime
environment variables": the reserved keys cannot be set in a function's configuration (Lambda
refuses the deploy), while ``TZ``, ``LANG``, ``PATH`` and the like are not reserved. *Configuring
reserved concurrency*: a function's reserved concurrency is 0 or more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hubbub.runtime.cloudformation import TemplateError, load_app
from hubbub.runtime.cloudformation.functions import RESERVED_ENVIRONMENT
from tests.unit.runtime.cloudformation.builders import fn, write


@pytest.mark.parametrize("key", sorted(RESERVED_ENVIRONMENT))
def test_a_template_setting_a_reserved_variable_is_refused(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, {"Fn": fn(Environment={"Variables": {key: "mine", "OK": "1"}})})
    with pytest.raises(TemplateError, match=f"Fn: Environment sets {key}, reserved by Lambda"):
        load_app(path)


def test_a_reserved_variable_set_in_globals_is_refused_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"Fn": fn()},
        Globals={
            "Function": {
                "CodeUri": "code/",
                "Runtime": "python3.12",
                "Environment": {"Variables": {"AWS_REGION": "eu-west-1"}},
            }
        },
    )
    with pytest.raises(TemplateError, match="AWS_REGION"):
        load_app(path)


@pytest.mark.parametrize("key", ["TZ", "LANG", "PATH", "PYTHONPATH", "AWS_XRAY_CONTEXT_MISSING"])
def test_unreserved_variables_may_be_set(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, {"Fn": fn(Environment={"Variables": {key: "mine"}})})
    assert load_app(path).functions["Fn"].environment[key] == "mine"


@pytest.mark.parametrize(("value", "read"), [(0, 0), (3, 3)])
def test_reserved_concurrency_is_read(tmp_path: Path, value: int, read: int) -> None:
    path = write(tmp_path, {"Fn": fn(ReservedConcurrentExecutions=value)})
    assert load_app(path).functions["Fn"].reserved_concurrency == read


def test_negative_reserved_concurrency_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"Fn": fn(ReservedConcurrentExecutions=-1)})
    with pytest.raises(TemplateError, match="ReservedConcurrentExecutions"):
        load_app(path)
