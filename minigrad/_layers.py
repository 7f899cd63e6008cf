"""Helpers that walk a model's layers and save or restore training modes."""

from __future__ import annotations

from collections.abc import Iterator

from minigrad.containers import Sequential
from minigrad.module import Module


def iter_layers(model: Module, prefix: str = "") -> Iterator[tuple[str, Module]]:
    """Yield ``(dotted position, layer)`` for each layer that ``model.forward`` runs.

    A plain ``Sequential`` is entered, nested ones too, so a layer can be named ``1.0``.
    Any other module, a subclass of ``Sequential`` included, is yielded as one layer,
    because its ``forward`` may do more than chain its children. A model that is not a
    ``Sequential`` is yielded with the name ``""``.
    """
    if type(model) is not Sequential:
        yield prefix, model
        return
    for name, child in model.named_children():
        yield from iter_layers(child, f"{prefix}.{name}" if prefix else name)


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


def snapshot_modules(model: Module) -> list[tuple[Module, dict[str, object]]]:
    """Return a shallow copy of the attributes of ``model`` and of every submodule.

    Layers replace their caches and flags instead of changing them in place, so
    ``restore_modules`` with this snapshot undoes a forward pass, a backward pass and
    ``train``/``eval``. Parameter values are not copied.
    """
    return [(module, dict(vars(module))) for module in iter_modules(model)]


def restore_modules(snapshot: list[tuple[Module, dict[str, object]]]) -> None:
    """Give every module the attributes that ``snapshot_modules`` recorded."""
    for module, attributes in snapshot:
        vars(module).clear()
        vars(module).update(attributes)
