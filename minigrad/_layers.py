"""Helpers that walk a model's layers and save or restore training modes."""

from __future__ import annotations

from collections.abc import Iterator

from minigrad.module import Module


def iter_modules(model: Module) -> Iterator[Module]:
    """Yield ``model`` and every submodule, depth first."""
    yield model
    for _, child in model.named_children():
        yield from iter_modules(child)


def save_modes(model: Module) -> list[tuple[Module, bool]]:
    """Return the ``training`` flag of ``model`` and of every submodule."""
    return [(module, module.training) for module in iter_modules(model)]


def restore_modes(saved: list[tuple[Module, bool]]) -> None:
    """Set each module's ``training`` flag back to the value that ``save_modes`` returned."""
    for module, training in saved:
        module.training = training

