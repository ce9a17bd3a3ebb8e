"""config.example.yaml documents every key the daemon reads, and nothing it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from worker.config import AccountSettings, Config

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        keys.add(key)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, key + ".")
    return keys


def _documented(node: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        for name, value in node.items():
            keys.add(f"{prefix}{name}")
            keys |= _documented(value, f"{prefix}{name}.")
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        keys |= _documented(node[0], prefix)
    return keys


def test_every_config_key_is_in_the_example_and_only_those() -> None:
    documented = _documented(yaml.safe_load(EXAMPLE.read_text()))
    expected = (_keys(Config) - {"accounts"}) | {"accounts"} | _keys(AccountSettings, "accounts.")
    # option_names is a free mapping: its entries are examples, not keys of the model.
    documented = {k for k in documented if not k.startswith("pixverse.option_names.")}
    assert expected - documented == set(), "keys missing from config.example.yaml"
    assert documented - expected == set(), "keys in config.example.yaml the daemon does not know"
