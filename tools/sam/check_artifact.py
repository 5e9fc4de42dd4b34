"""Check a ``sam build`` artefact, as CI does after building the template.

For every function of the built template: its ``Handler`` imports with the Lambda runtime's Python
from the built directory alone (no site-packages: boto3 is left to the Lambda runtime, as it
provides it), and no test or local-runtime dependency was packaged.

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

IMPORT_CHECK = """
import importlib, sys
sys.path.insert(0, sys.argv[2])
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), name)
assert callable(handler), sys.argv[1]
"""


def check(build_dir: Path, python: str) -> list[str]:
    problems: list[str] = []
    interpreter = shutil.which(python)
    if interpreter is None:
        return [f"{python} is not on PATH: the check needs the Lambda runtime's Python"]
    python = interpreter
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
        result = subprocess.run(
            [python, "-I", "-S", "-c", IMPORT_CHECK, str(props["Handler"]), str(code)],
            cwd=code,
            capture_output=True,
            text=True,
            check=False,
            env={"AWS_DEFAULT_REGION": "us-east-1"},
        )
        if result.returncode != 0:
            problems.append(f"{name}: {props['Handler']} does not import:\n{result.stderr}")
        else:
            print(f"ok  {name}: {props['Handler']} imports from {code.name}/ alone")
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
