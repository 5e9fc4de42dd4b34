"""A function imports locally only what its deployed artefact would hold
(``runtime.lambda_.artefact`` and ``import_guard``), run in real worker processes.

AWS: *Working with .zip file archives for Python Lambda functions* (what ``sam build``'s Python
builder installs: the code directory and its ``requirements.txt``); *Lambda runtimes* (the
Python runtimes include the AWS SDK, boto3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.lambda_.artefact import importable
from hubbub.runtime.lambda_.pool import FunctionPool
from tests.unit.runtime.lambda_.test_pool import spec

PROBE = """
import importlib

NAMES = ("jwt", "yaml", "json", "boto3", "helper", "not_a_module_anywhere_xyz")

def handler(event, context):
    found = {}
    for name in NAMES:
        try:
            importlib.import_module(name)
            found[name] = "ok"
        except ModuleNotFoundError as exc:
            found[name] = str(exc)
    import jwt.algorithms
    found["jwt has cryptography"] = jwt.algorithms.has_crypto
    return found
"""

BOTO3 = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}


def write_code(root: Path, requirements: str | None) -> Path:
    root.mkdir()
    (root / "probe.py").write_text(PROBE)
    (root / "helper.py").write_text("VALUE = 1\n")
    if requirements is not None:
        (root / "requirements.txt").write_text(requirements)
    return root


async def probe(code: Path) -> dict[str, Any]:
    """What the probe function in ``code`` could import, run in a real worker."""
    pool = FunctionPool(
        spec(code, "probe.handler", timeout_s=10.0),
        runtime_env={},
        max_workers=1,
        region="us-east-1",
    )
    try:
        result = await pool.invoke({})
    finally:
        await pool.close()
    assert result.ok, result.payload
    found: dict[str, Any] = result.payload
    return found


def test_the_artefact_holds_the_requirements_their_dependencies_and_boto3(
    tmp_path: Path,
) -> None:
    code = write_code(tmp_path / "fn", "# tokens\nPyJWT>=2.8,<3  # signed\n-r other.txt\n\n")
    allowed = importable(code)
    assert allowed is not None
    assert "jwt" in allowed
    assert allowed >= BOTO3  # what Lambda's Python runtimes ship
    # installed beside hubbub serve (the runtime's own dependencies), not in this artefact
    assert not {"cryptography", "yaml", "aiohttp", "moto", "pydantic"} & allowed


def test_extras_bring_their_dependencies_and_only_theirs(tmp_path: Path) -> None:
    bare = importable(write_code(tmp_path / "bare", "aws-lambda-powertools\n"))
    parser = importable(write_code(tmp_path / "parser", "aws-lambda-powertools[parser]\n"))
    assert bare is not None and parser is not None
    assert "aws_lambda_powertools" in bare and "pydantic" not in bare
    assert {"aws_lambda_powertools", "pydantic", "pydantic_core"} <= parser


def test_markers_are_read_for_lambdas_python_and_architecture(tmp_path: Path) -> None:
    """PEP 508 markers hold or not as on the machine ``sam build`` installs for: Linux, the
    function's Runtime and Architectures, whatever runs ``hubbub serve``."""
    code = write_code(
        tmp_path / "fn",
        'PyYAML; platform_machine == "aarch64"\n'
        'PyJWT ; python_version < "3.0"  # never on Lambda\n'
        'prompt_toolkit; sys_platform == "linux" and python_version >= "3.12"\t# tabbed\n',
    )
    arm = importable(code, "python3.12", "arm64")
    intel = importable(code, "python3.12", "x86_64")
    older = importable(code, "python3.11", "arm64")
    assert arm is not None and intel is not None and older is not None
    assert {"yaml", "prompt_toolkit"} <= arm and "jwt" not in arm
    assert "yaml" not in intel and "prompt_toolkit" in intel
    assert "yaml" in older and "prompt_toolkit" not in older


def test_a_dependencys_marker_is_read_for_the_functions_python(tmp_path: Path) -> None:
    """aiohttp requires typing_extensions only below Python 3.13: in a python3.12 artefact, not
    in a python3.13 one."""
    code = write_code(tmp_path / "fn", "aiohttp\n")
    older, newer = importable(code, "python3.12"), importable(code, "python3.13")
    assert older is not None and newer is not None
    assert {"aiohttp", "yarl", "multidict"} <= older & newer
    assert "typing_extensions" in older and "typing_extensions" not in newer


def test_without_requirements_the_artefact_is_unknown(tmp_path: Path) -> None:
    assert importable(write_code(tmp_path / "fn", None)) is None


async def test_a_function_imports_what_its_artefact_holds_and_nothing_else(
    tmp_path: Path,
) -> None:
    got = await probe(write_code(tmp_path / "fn", "PyJWT\n"))
    assert got["jwt"] == got["json"] == got["boto3"] == got["helper"] == "ok"
    assert got["yaml"].startswith("No module named 'yaml' (installed where hubbub serve runs")
    assert "requirements.txt" in got["yaml"]
    # a module installed nowhere gets Python's own message, as on AWS
    assert got["not_a_module_anywhere_xyz"] == "No module named 'not_a_module_anywhere_xyz'"
    # PyJWT's optional import of cryptography takes the path it takes in the deployed function
    assert got["jwt has cryptography"] is False


async def test_a_function_without_requirements_is_not_restricted(tmp_path: Path) -> None:
    got = await probe(write_code(tmp_path / "fn", None))
    assert got["yaml"] == "ok"
    assert got["jwt has cryptography"] is True  # the tls extra installs it here


def test_a_module_on_another_drive_is_not_taken_for_the_standard_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Windows ``relpath`` across drives raises: such a module is not beneath the standard
    library, and the finder must say so rather than fail the import."""
    from importlib.machinery import ModuleSpec

    from hubbub.runtime.lambda_ import import_guard

    spec = ModuleSpec("elsewhere", None, origin="D:\\lib\\elsewhere.py")

    def across_drives(path: str, start: str | None = None) -> str:
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(import_guard.os.path, "relpath", across_drives)
    assert import_guard._in_stdlib(spec) is False


def test_an_editable_install_without_top_level_names_its_pth_directories(tmp_path: Path) -> None:
    """hatchling, flit and pdm write no ``top_level.txt``, and their editable installs record
    a ``.pth`` file rather than the package: its directory's modules are the distribution's."""
    import importlib.metadata

    from hubbub.runtime.lambda_ import artefact

    source = tmp_path / "project" / "src"
    (source / "mylib").mkdir(parents=True)
    (source / "mylib" / "__init__.py").write_text("")
    (source / "mylib_helpers.py").write_text("")
    (source / "not-a-module.txt").write_text("")
    site = tmp_path / "site"
    info = site / "mylib-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mylib\nVersion: 1.0\n")
    (info / "RECORD").write_text("_mylib.pth,,\nmylib-1.0.dist-info/METADATA,,\n")
    (site / "_mylib.pth").write_text(f"{source}\n")
    dist = importlib.metadata.PathDistribution(info)
    assert artefact._top_level(dist) == {"mylib", "mylib_helpers"}
