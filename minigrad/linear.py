"""The fully connected layer, written as the model for new layers.

Every layer follows the same four steps. ``__init__`` validates its arguments, creates its
``Parameter`` objects and declares its cache as None. ``forward`` validates and converts the
input, computes the output and caches only what ``backward`` needs. ``backward`` checks the
cache and the gradient's shape, adds into each ``.grad``, releases the cache and returns the
gradient with respect to the input. ``extra_repr`` shows the configuration.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from minigrad import init
from minigrad._array import Array, as_float_array, check_float_dtype, is_private
from minigrad._random import as_generator
from minigrad.module import Module, check_grad_output_shape, missing_forward_error
from minigrad.parameter import Parameter


class Linear(Module):
    r"""Affine map ``y = x @ W.T + b``, with ``W`` stored as (out_features, in_features).

    The layout is PyTorch's, so weights copy between the two frameworks unchanged. A
    textbook weight matrix in the (in_features, out_features) layout, used as ``x @ w``,
    becomes ``Linear.from_weights(w.T)``.

    Derivative, for the upstream gradient ``G = dL/dy``::

        dL/dx = G @ W            dL/dW = G.T @ x            dL/db = sum of G over the batch

    The bias gradient sums over every dimension but the last, so it has the shape of ``b``.

    Args:
        in_features: Size of each input sample, a positive integer.
        out_features: Size of each output sample, a positive integer.
        bias: If False, the layer has no bias and ``self.bias`` is None.
        rng: A ``numpy.random.Generator`` or an integer seed for the initialization.
            None draws fresh entropy, so two layers differ.
        dtype: float64 (the default) or float32, for the parameters and the computation.

    Initialization: ``W`` and ``b`` are drawn from U(-k, k) with ``k = 1/sqrt(in_features)``,
    as in PyTorch, by ``minigrad.init.uniform_``. The random weights make the hidden units
    differ from the start. To choose another scheme, fill the parameters afterwards, for
    example ``init.kaiming_uniform_(layer.weight, nonlinearity="relu", rng=rng)``.

    Shape:
        forward: ``x (*, in_features) -> y (*, out_features)``, where ``*`` is any number of
        leading dimensions, including none.

        backward: ``grad_output (*, out_features) -> grad_input (*, in_features)``;
        ``weight.grad (out_features, in_features)``, ``bias.grad (out_features,)``.

    Input of an integer dtype or of the other float dtype is converted to the parameters'
    dtype. The layer caches a private copy of ``x``, so changing ``x`` after ``forward`` does
    not change the gradients.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        _check_feature_count("in_features", in_features)
        _check_feature_count("out_features", out_features)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(
                f"Linear: bias must be True or False, got {bias!r}. To start from given "
                f"arrays, use Linear.from_weights(weight, bias)."
            )
        check_float_dtype(type(self).__name__, dtype)
        generator = as_generator(rng, "Linear")

        bound = 1.0 / math.sqrt(in_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.zeros((out_features, in_features)), dtype=dtype)
        init.uniform_(self.weight, -bound, bound, rng=generator)
        self.bias: Parameter | None = None
        if bias:
            self.bias = Parameter(np.zeros(out_features), dtype=dtype)
            init.uniform_(self.bias, -bound, bound, rng=generator)

        self._input: Array | None = None

    @classmethod
    def from_weights(
        cls,
        weight: npt.ArrayLike,
        bias: npt.ArrayLike | None = None,
        *,
        dtype: npt.DTypeLike = np.float64,
    ) -> Linear:
        """Create a layer from given arrays, which are copied.

        Args:
            weight: Array of shape (out_features, in_features). Integers are converted.
            bias: Array of shape (out_features,), or None for a layer without bias.
            dtype: float64 (the default) or float32.
        """
        check_float_dtype(cls.__name__ + ".from_weights", dtype)
        weight_parameter = _create_parameter("weight", weight, dtype)
        if weight_parameter.data.ndim != 2 or 0 in weight_parameter.shape:
            raise ValueError(
                f"Linear.from_weights: weight must be a non-empty 2-D array of shape "
                f"(out_features, in_features), got shape {weight_parameter.shape}. A "
                f"weight w used as x @ w has the other layout: pass w.T."
            )
        out_features, in_features = weight_parameter.shape

        bias_parameter = None
        if bias is not None:
            bias_parameter = _create_parameter("bias", bias, dtype)
            if bias_parameter.shape != (out_features,):
                raise ValueError(
                    f"Linear.from_weights: bias must have shape ({out_features},) to match "
                    f"weight of shape {weight_parameter.shape}, got shape "
                    f"{bias_parameter.shape}. Pass a 1-D array with one entry per output."
                )

        # The seed is fixed because the drawn values are overwritten at once.
        layer = cls(in_features, out_features, bias=bias is not None, rng=0, dtype=dtype)
        layer.weight.data[...] = weight_parameter.data
        if layer.bias is not None and bias_parameter is not None:
            layer.bias.data[...] = bias_parameter.data
        return layer

    def forward(self, x: Array) -> Array:
        """Return ``x @ W.T + b`` and cache ``x`` for the weight gradient."""
        weight = self.weight.data
        array = as_float_array(x, owner=self, name="x", dtype=weight.dtype)
        shape = array.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input with {self.in_features} features in its last "
                f"dimension, got shape {shape}. Pass x with shape "
                f"(batch_size, {self.in_features}), or check the previous layer's "
                f"out_features."
            )

        output: Array = array @ weight.T
        bias = self.bias
        if bias is not None:
            output += bias.data

        # backward needs x as forward saw it, so a caller's writable array is copied.
        self._input = array if is_private(array, x) else array.copy()
        return output

    def backward(self, grad_output: Array) -> Array:
        """Add ``G.T @ x`` to ``weight.grad`` and ``sum(G)`` to ``bias.grad``; return ``G @ W``."""
        grad, grad_2d, input_2d = self._prepare_backward(grad_output)
        # The input gradient is computed before any parameter gradient changes, so a
        # failure here changes nothing.
        grad_input: Array = grad @ self.weight.data
        self._accumulate_parameter_grads(grad_2d, input_2d)
        return grad_input

    def parameter_backward(self, grad_output: Array) -> None:
        """Add ``G.T @ x`` to ``weight.grad`` and ``sum(G)`` to ``bias.grad``, skipping ``G @ W``.

        This saves one of the layer's three matrix products when nothing needs the
        gradient with respect to the input, as for the first layer of a network.
        """
        _, grad_2d, input_2d = self._prepare_backward(grad_output)
        self._accumulate_parameter_grads(grad_2d, input_2d)

    def _prepare_backward(self, grad_output: Array) -> tuple[Array, Array, Array]:
        """Validate ``grad_output``; return it, and it and the input as 2-D matrices."""
        cached_input = self._input
        if cached_input is None:
            raise missing_forward_error(self)
        grad = as_float_array(
            grad_output, owner=self, name="grad_output", dtype=self.weight.data.dtype
        )
        expected_shape = (*cached_input.shape[:-1], self.out_features)
        check_grad_output_shape(self, grad, expected_shape)

        # Flatten leading dimensions so that one matrix product covers every sample.
        if grad.ndim == 2:
            return grad, grad, cached_input
        return (
            grad,
            grad.reshape(-1, self.out_features),
            cached_input.reshape(-1, self.in_features),
        )

    def _accumulate_parameter_grads(self, grad_2d: Array, input_2d: Array) -> None:
        """Add the parameter gradients and release the cache."""
        bias = self.bias
        # The bias gradient is computed before the weight gradient changes.
        bias_grad = None if bias is None else grad_2d.sum(axis=0)
        weight_grad = self.weight.grad
        if weight_grad.size >= _DIRECT_PRODUCT_MIN_SIZE and _is_all_zero(weight_grad):
            # Adding to zeros changes no value, so the product is written straight into the
            # gradient, without a temporary array of the weight's size.
            np.matmul(grad_2d.T, input_2d, out=weight_grad)
        else:
            weight_grad += grad_2d.T @ input_2d
        if bias is not None:
            bias.grad += bias_grad
        self._input = None

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


# Below this many weights, testing the gradient for zeros costs more than the addition it
# saves. The number is an estimate from timings with numpy 2.4; either path gives the same
# values.
_DIRECT_PRODUCT_MIN_SIZE = 4096


def _is_all_zero(array: Array) -> bool:
    """Return True if every entry of the float ``array`` is +0.0, testing the bits."""
    # As unsigned integers, +0.0 is 0 and every other value, -0.0 and NaN included, is
    # positive, so one maximum tests all entries without a temporary array.
    bits = array.view(np.uint64 if array.dtype.itemsize == 8 else np.uint32)
    return array.size == 0 or int(bits.max()) == 0


def _check_feature_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Linear: {name} must be an integer, got {value!r} of type {type(value).__name__}. "
            f"Pass a positive int such as 4."
        )
    if value < 1:
        raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}.")


def _create_parameter(name: str, values: npt.ArrayLike, dtype: npt.DTypeLike) -> Parameter:
    """Create a Parameter, naming the ``from_weights`` argument in any error it raises."""
    try:
        return Parameter(values, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise type(error)(f"Linear.from_weights: {name} is invalid. {error}") from error


__all__ = ["Linear"]
