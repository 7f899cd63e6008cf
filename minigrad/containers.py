"""Containers that chain modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, overload

import numpy as np

from minigrad._array import Array
from minigrad.module import Module


class Sequential(Module):
    """Chain of modules: ``forward`` runs them in order, ``backward`` in reverse order.

    Parameters are named by position, such as ``0.weight`` and ``2.bias``. An empty
    ``Sequential`` passes its input and its gradient through unchanged. A module object may
    appear only once in the chain, because it keeps one cache per forward. To use a layer's
    weights twice, build a second layer and assign it the same ``Parameter`` objects.

    Shape:
        forward: the first module's input shape ``->`` the last module's output shape.

        backward: the last module's output shape ``->`` the first module's input shape.
    """

    def __init__(self, *layers: Module) -> None:
        for index, layer in enumerate(layers):
            _check_module(index, layer)
        _check_no_repeated_module(layers)
        self._layers: list[Module] = list(layers)

    def forward(self, x: Array) -> Array:
        """Run ``x`` through every module in order and return the last output.

        If a module raises, every module in the chain gets back the attribute values it had
        before the call, and every ``numpy.random.Generator`` attribute (such as Dropout's) its
        state. Layers replace their cache instead of changing it in place, so this restores
        the caches of the previous forward. Without it, the modules that ran first would keep
        caches of the failed input, and ``backward`` would mix them with older ones.
        """
        saved_states: list[tuple[Module, dict[str, object]]] = []
        _save_attributes(self, saved_states)
        saved_generators = [
            (value, value.bit_generator.state)
            for _, state in saved_states
            for value in state.values()
            if isinstance(value, np.random.Generator)
        ]
        try:
            for layer in self._layers:
                x = layer.forward(x)
        except BaseException:
            for module, state in saved_states:
                vars(module).clear()
                vars(module).update(state)
            for generator, generator_state in saved_generators:
                generator.bit_generator.state = generator_state
            raise
        return x

    @overload
    def backward(self, grad_output: Array, *, input_grad: Literal[True] = ...) -> Array: ...

    @overload
    def backward(self, grad_output: Array, *, input_grad: Literal[False]) -> None: ...

    @overload
    def backward(self, grad_output: Array, *, input_grad: bool) -> Array | None: ...

    def backward(self, grad_output: Array, *, input_grad: bool = True) -> Array | None:
        """Run ``grad_output`` through every module's ``backward`` in reverse order.

        Returns the gradient with respect to the input of the first module. With
        ``input_grad=False``, the first module runs ``parameter_backward`` instead, which
        accumulates its parameter gradients without computing that gradient, and the call
        returns None. A training step needs no gradient with respect to the data, and for a
        first ``Linear`` layer this skips one of its three matrix products.
        """
        if not isinstance(input_grad, (bool, np.bool_)):
            raise TypeError(
                f"Sequential.backward: input_grad must be True or False, got {input_grad!r}. "
                f"Pass input_grad=False to skip the gradient with respect to the input."
            )
        layers = self._layers
        if not input_grad:
            # NOTE: as below, a module that raises leaves the gradients already added.
            if layers:
                for layer in layers[:0:-1]:
                    grad_output = layer.backward(grad_output)
                layers[0].parameter_backward(grad_output)
            return None
        # NOTE: a module that raises here leaves the gradients that later modules already
        # added. That happens only when a module's cache no longer matches the chain, for
        # example after calling one module's forward or backward on its own.
        for layer in reversed(layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def parameter_backward(self, grad_output: Array) -> None:
        """Run ``backward(grad_output, input_grad=False)``."""
        self.backward(grad_output, input_grad=False)

    def append(self, layer: Module) -> Sequential:
        """Add ``layer`` at the end and return this container."""
        _check_module(len(self._layers), layer)
        _check_no_repeated_module([*self._layers, layer])
        self._layers.append(layer)
        return self

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for index, layer in enumerate(self._layers):
            yield str(index), layer

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)


def _save_attributes(module: Module, saved_states: list[tuple[Module, dict[str, object]]]) -> None:
    """Append a shallow copy of the attributes of ``module`` and of every submodule."""
    # This runs in every forward, so it avoids the generators of named_children where the
    # class keeps the base implementation, which finds submodules among the attributes.
    attributes = vars(module)
    saved_states.append((module, attributes.copy()))
    if type(module) is Sequential:
        for layer in module._layers:
            _save_attributes(layer, saved_states)
    elif type(module).named_children is Module.named_children:
        for value in attributes.values():
            if isinstance(value, Module):
                _save_attributes(value, saved_states)
    else:
        for _, child in module.named_children():
            _save_attributes(child, saved_states)


def _walk_modules(module: Module) -> Iterator[Module]:
    yield module
    for _, child in module.named_children():
        yield from _walk_modules(child)


def _check_module(index: int, layer: object) -> None:
    if not isinstance(layer, Module):
        raise TypeError(
            f"Sequential: layer {index} must be a Module, got {type(layer).__name__}. "
            f"Pass layer instances such as Linear(3, 4), not classes or functions."
        )


def _check_no_repeated_module(layers: list[Module] | tuple[Module, ...]) -> None:
    first_layer_index: dict[int, int] = {}
    for index, layer in enumerate(layers):
        for module in _walk_modules(layer):
            if id(module) in first_layer_index:
                raise ValueError(
                    f"Sequential: layer {index} contains {module!r}, which layer "
                    f"{first_layer_index[id(module)]} already contains. A module keeps one "
                    f"cache per forward, so it can appear only once. Create a second instance "
                    f"and, to share weights, assign it the same Parameter objects."
                )
            first_layer_index[id(module)] = index
