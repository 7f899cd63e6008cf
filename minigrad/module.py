"""The base class of every layer and container."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from minigrad import state
from minigrad._array import Array
from minigrad.parameter import Parameter

ModuleT = TypeVar("ModuleT", bound="Module")


class Module:
    """Base class of layers: an explicit ``forward`` and an explicit ``backward``.

    A subclass implements two methods and keeps its parameters as attributes:

    - ``forward(x)`` computes the output and caches only what ``backward`` needs.
    - ``backward(grad_output)`` receives dL/d(output), adds dL/d(parameter) into each
      parameter's ``.grad`` and returns dL/d(input). It raises ``RuntimeError`` when no
      ``forward`` ran since the last ``backward``, and ``ValueError`` when ``grad_output``
      does not have the shape of the last output.

    Attributes that are ``Parameter`` or ``Module`` objects are found automatically by
    ``parameters()``, ``named_parameters()``, ``zero_grad()``, ``train()`` and ``eval()``:
    first the module's own parameters in the order they were assigned, then each
    submodule's, as in PyTorch. Calling ``super().__init__()`` is not needed.

    Every module starts in training mode (``training`` is True). ``eval()`` switches it and
    all its submodules to evaluation mode, and ``train()`` switches them back. Only layers
    that behave differently in the two modes, such as ``Dropout``, read the flag.
    """

    training: bool = True
    """True in training mode, False in evaluation mode. Set it with ``train()`` or ``eval()``."""

    def __setattr__(self, name: str, value: Any) -> None:
        # Replacing a Parameter with an array would silently drop it from parameters() and
        # from every optimizer, so only another Parameter or None may take its place.
        if not name.startswith("_") and value is not None and not isinstance(value, Parameter):
            current = self.__dict__.get(name)
            if isinstance(current, Parameter):
                raise TypeError(
                    f"{type(self).__name__}.{name} is a Parameter and cannot be replaced by "
                    f"{type(value).__name__}. Write the values in place instead: "
                    f"module.{name}.data[...] = values, or assign a Parameter."
                )
        object.__setattr__(self, name, value)

    def forward(self, x: Array) -> Array:
        """Compute the output for input ``x`` and cache what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward(x).")

    def backward(self, grad_output: Array) -> Array:
        """Accumulate parameter gradients and return the gradient with respect to the input."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement backward(grad_output)."
        )

    def parameter_backward(self, grad_output: Array) -> None:
        """Accumulate parameter gradients like ``backward``, without returning dL/d(input).

        ``Sequential.backward(grad_output, input_grad=False)`` calls this on its first
        module. The default runs ``backward`` and discards its result. A layer whose input
        gradient costs extra work, such as ``Linear``, overrides it to skip that work.
        """
        self.backward(grad_output)

    def __call__(self, x: Array) -> Array:
        return self.forward(x)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(attribute name, module)`` for each direct submodule."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, parameter)`` pairs, such as ``("0.weight", ...)``.

        A parameter shared by several layers is yielded once, under its first name.
        """
        seen: set[int] = set()
        for name, parameter in self._walk_parameters(prefix):
            if id(parameter) not in seen:
                seen.add(id(parameter))
                yield name, parameter

    def _walk_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._walk_parameters(f"{prefix}{name}.")

    def parameters(self) -> Iterator[Parameter]:
        """Yield every parameter of this module and its submodules, each once."""
        for _, parameter in self.named_parameters():
            yield parameter

    def zero_grad(self) -> None:
        """Fill every parameter's ``.grad`` with zeros."""
        for parameter in self.parameters():
            parameter.zero_grad()

    def train(self: ModuleT, mode: bool = True) -> ModuleT:
        """Set ``training = mode`` on this module and all its submodules, and return this module.

        ``train()`` selects training mode and ``train(False)`` evaluation mode. The flag
        reaches every module that ``named_children`` yields, recursively, so containers such
        as ``Sequential`` pass it on to their layers. Returning the module allows
        ``model = Sequential(...).eval()``.
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(
                f"{type(self).__name__}.train: mode must be True or False, got {mode!r}. "
                f"Call train() for training mode or eval() for evaluation mode."
            )
        self.training = bool(mode)
        for _, child in self.named_children():
            child.train(bool(mode))
        return self

    def eval(self: ModuleT) -> ModuleT:
        """Set evaluation mode on this module and all its submodules, as ``train(False)`` does."""
        return self.train(False)

    def extra_repr(self) -> str:
        """Return the configuration shown inside the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        lines.append(")")
        return "\n".join(lines)

    def state_dict(self) -> dict[str, Array]:
        """Return a copy of every parameter's values, keyed by ``named_parameters`` names.

        The arrays are copies, so training after the call does not change them. A
        parameter shared by several layers appears once, under its first name.
        """
        return state.state_dict(self)

    def load_state_dict(
        self, state_dict: Mapping[str, npt.ArrayLike], strict: bool = True
    ) -> state.LoadResult:
        """Copy the values of ``state_dict`` into the parameters in place, all or nothing.

        Every entry is validated before any parameter changes, so on any error every
        parameter stays bit-for-bit as it was. ``ValueError`` is raised, naming the entry,
        when

        - a parameter has no entry, or an entry names no parameter (with ``strict=True``);
        - an entry's shape differs from its parameter's shape, even where numpy would
          broadcast it, such as a (1,) bias into a (4,) bias;
        - an entry's dtype is not an integer or real float dtype (booleans, complex
          numbers, strings and objects);
        - an entry contains NaN or infinity, or a value beyond the parameter dtype's range.

        Values are cast to each parameter's dtype, so a float64 state loads into a float32
        model. Parameters keep their identity, so an optimizer created earlier keeps
        working. Gradients are not changed.

        Args:
            state_dict: A mapping from dotted parameter names to arrays, as returned by
                ``state_dict()`` or ``minigrad.read_state_dict(path)``.
            strict: If False, parameters without an entry keep their values and entries
                without a parameter are ignored. Shapes and values are still checked.

        Returns:
            ``LoadResult(missing_keys, unexpected_keys)``: the names that were skipped,
            which are both empty with ``strict=True``.
        """
        return state.load_state_dict(self, state_dict, strict=strict)

    def to(self: ModuleT, dtype: npt.DTypeLike) -> ModuleT:
        """Convert every parameter and its gradient to ``dtype`` and return this module.

        ``dtype`` is float64 or float32. The ``Parameter`` objects are kept, so layers and
        optimizers still see them, but their ``data`` and ``grad`` arrays are replaced by
        converted copies. Create the optimizer after calling ``to``, because an optimizer
        that keeps per-parameter arrays (such as momentum) keeps them in the old dtype.
        Call ``to`` between training steps, not between a forward and its backward.

        Raises ``TypeError`` for any other dtype. A value that would overflow the new dtype
        (beyond about 3.4e38 for float32) raises ``ValueError`` naming the parameter, and
        then no parameter changes.
        """
        state.convert_dtype(self, dtype)
        return self


def missing_forward_error(module: Any) -> RuntimeError:
    """Build the error raised when ``backward`` runs without a preceding ``forward``."""
    return RuntimeError(
        f"{module!r}: backward was called without a preceding forward. Call forward(x) "
        f"first; each forward allows one backward, because backward releases the cache."
    )


def check_grad_output_shape(module: Any, grad_output: Array, expected: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``grad_output`` has the shape of the last output."""
    if grad_output.shape != expected:
        raise ValueError(
            f"{module!r}: grad_output has shape {grad_output.shape}, but the last forward "
            f"returned shape {expected}. Pass the gradient of the loss with respect to that "
            f"output, with the same shape."
        )
