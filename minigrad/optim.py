"""Optimizers: update parameters in place from their accumulated gradients."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

from minigrad.parameter import Parameter


class Optimizer:
    """Base class of optimizers over a fixed list of parameters.

    ``step()`` updates every parameter's ``data`` in place from its ``grad``;
    ``zero_grad()`` fills every ``grad`` with zeros. A subclass implements ``step``.

    Args:
        params: The parameters to update, for example ``model.parameters()``. The list must
            not be empty and must not contain the same parameter twice.
    """

    def __init__(self, params: Iterable[Parameter]) -> None:
        if isinstance(params, Parameter):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameter objects, got "
                f"a single Parameter. Wrap it in a list: [param]."
            )
        try:
            parameters = list(params)
        except TypeError as error:
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameter objects, got "
                f"{type(params).__name__}. Pass model.parameters()."
            ) from error
        if not parameters:
            raise ValueError(
                f"{type(self).__name__}: params is empty, so there is nothing to optimize. "
                f"Pass model.parameters() of a model that has parameters."
            )
        seen: set[int] = set()
        for index, parameter in enumerate(parameters):
            if not isinstance(parameter, Parameter):
                raise TypeError(
                    f"{type(self).__name__}: params[{index}] must be a Parameter, got "
                    f"{type(parameter).__name__}. Pass model.parameters()."
                )
            if id(parameter) in seen:
                raise ValueError(
                    f"{type(self).__name__}: params[{index}] appears more than once, so it "
                    f"would be updated twice per step. Pass each parameter once."
                )
            seen.add(id(parameter))
        self.params: list[Parameter] = parameters

    def zero_grad(self) -> None:
        """Fill the ``grad`` of every parameter with zeros."""
        for parameter in self.params:
            parameter.zero_grad()

    def step(self) -> None:
        """Update every parameter in place from its gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step().")


class SGD(Optimizer):
    r"""Plain stochastic gradient descent: ``w <- w - lr * dL/dw``.

    The update is applied in place, so each parameter keeps its array, shape and dtype.

    Args:
        params: The parameters to update, for example ``model.parameters()``.
        lr: Learning rate, a finite number >= 0.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        super().__init__(params)
        # numbers.Real also covers numpy scalars such as np.float32, which are not floats.
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr):
            raise ValueError(f"SGD: lr must be a finite number, got {lr!r}.")
        if lr < 0:
            raise ValueError(f"SGD: lr must be >= 0, got {lr!r}. Use a positive learning rate.")
        self.lr: float = float(lr)

    def step(self) -> None:
        """Subtract ``lr * grad`` from every parameter in place."""
        for parameter in self.params:
            parameter.data -= self.lr * parameter.grad

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr})"
