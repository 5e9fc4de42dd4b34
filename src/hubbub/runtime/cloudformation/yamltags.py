"""Loading CloudFormation YAML: the short-form intrinsic tags (``!Ref``, ``!Sub``...) become the
long-form dicts (``{"Ref": ...}``, ``{"Fn::Sub": ...}``) that the resolver understands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["load_template"]


class _CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = tag_suffix
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if name == "Ref":
        return {"Ref": value}
    if name == "Condition":
        return {"Condition": value}
    if name == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{name}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def _no_dates(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """CloudFormation keeps ``2010-09-09`` a string; YAML would make it a date."""
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _no_dates)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return data
