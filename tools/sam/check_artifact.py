"""Check a ``sam build`` artefact, as CI does after building the template.

For every function of the built template: its ``Handler`` imports with the Lambda runtime's Python
from the built directory alone (no site-packages: boto3 is left to the Lambda runtime, as it
provides it), no test or local-runtime dependency was packaged, and every module carries its
bytecode for that Python, compiled to be used without a check against its source.

Why the bytecode: ``sam build`` leaves it out (its Python builder skips ``__pycache__`` and
installs wheels by unzipping them), and Lambda's task root is read-only, so without it every cold
start compiles every module it imports: 560-590 ms instead of 230-240 for MessageFunction's
handler on the benchmark machine (docs/benchmarks.md, finding 28). Compiled after the build with
``python3.12 -m compileall -q -j 0 --invalidation-mode unchecked-hash BUILD_DIR``
(docs/deploy.md). Unchecked: ``sam deploy`` zips every file dated 1980, so a timestamp-checked
``.pyc`` would not match its extracted source and would be compiled again, in memory, each time.

    .venv/bin/python tools/sam/check_artifact.py BUILD_DIR [--python python3.12]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from hubbub.runtime.cloudformation.yamltags import load_template

FORBIDDEN = frozenset(
    {
        "pytest",
        "_pytest",
        "hypothesis",
        "moto",
        "playwright",
        "mypy",
        "ruff",
        "cfnlint",
        "aiohttp",
        "websockets",
        "prompt_toolkit",
        "boto3",
        "botocore",
    }
)

UNCHECKED_HASH = 0b01
"""The flags word of a hash-based ``.pyc`` whose source is never checked (PEP 552)."""

CACHE_TAG = "import sys; print(sys.implementation.cache_tag)"

IMPORT_CHECK = """
import importlib, sys, time
sys.path.insert(0, sys.argv[2])
started = time.perf_counter()
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), name)
assert callable(handler), sys.argv[1]
print(round((time.perf_counter() - started) * 1000))
"""


def check(build_dir: Path, python: str) -> list[str]:
    problems: list[str] = []
    interpreter = shutil.which(python)
    if interpreter is None:
        return [f"{python} is not on PATH: the check needs the Lambda runtime's Python"]
    python = interpreter
    tag = subprocess.run(
        [python, "-I", "-c", CACHE_TAG], capture_output=True, text=True, check=True
    ).stdout.strip()
    template = load_template(build_dir / "template.yaml")
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    if not functions:
        return ["the built template has no functions"]
    for name, props in sorted(functions.items()):
        code = (build_dir / str(props.get("CodeUri", name))).resolve()
        packaged = {p.name for p in code.iterdir()}
        leaked = sorted(packaged & FORBIDDEN)
        if leaked:
            problems.append(f"{name}: packages {', '.join(leaked)}")
        problems += bytecode_problems(name, code, tag)
        result = subprocess.run(  # -B: the check must not write the bytecode it checks for
            [python, "-B", "-I", "-S", "-c", IMPORT_CHECK, str(props["Handler"]), str(code)],
            cwd=code,
            capture_output=True,
            text=True,
            check=False,
            env={"AWS_DEFAULT_REGION": "us-east-1"},
        )
        if result.returncode != 0:
            problems.append(f"{name}: {props['Handler']} does not import:\n{result.stderr}")
        else:
            took = result.stdout.strip()
            print(f"ok  {name}: {props['Handler']} imports from {code.name}/ alone in {took} ms")
    return problems


def bytecode_problems(name: str, code: Path, tag: str) -> list[str]:
    """What of ``code``'s modules has no ``tag`` bytecode, or bytecode that checks its source."""
    missing: list[str] = []
    checked: list[str] = []
    for source in sorted(code.rglob("*.py")):
        compiled = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        try:
            with compiled.open("rb") as f:
                header = f.read(8)
        except OSError:
            missing.append(str(source.relative_to(code)))
            continue
        if len(header) < 8 or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            checked.append(str(compiled.relative_to(code)))
    problems = []
    if missing:
        problems.append(
            f"{name}: {len(missing)} modules without {tag} bytecode, e.g. {missing[0]}"
            " (python3.12 -m compileall -q -j 0 --invalidation-mode unchecked-hash BUILD_DIR)"
        )
    if checked:
        problems.append(
            f"{name}: {len(checked)} modules' bytecode is checked against its source, e.g."
            f" {checked[0]}: compile with --invalidation-mode unchecked-hash"
        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("build_dir", type=Path)
    parser.add_argument("--python", default="python3.12")
    args = parser.parse_args()
    problems = check(args.build_dir, args.python)
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
