"""docs/api.md lists every public name, so the reference cannot fall behind the code."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import minigrad
from minigrad import finite, init

API_TEXT = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", minigrad.__all__)
def test_api_docs_lists_public_name(name: str) -> None:
    assert f"`{name}`" in API_TEXT or f"`minigrad.{name}`" in API_TEXT


@pytest.mark.parametrize(
    "name",
    [
        name
        for module in (init, finite)
        for name, value in vars(module).items()
        if inspect.isfunction(value)
        and value.__module__ == module.__name__
        and not name.startswith("_")
    ],
)
def test_api_docs_lists_module_function(name: str) -> None:
    assert f"| `{name}` |" in API_TEXT
