"""Weight initialization: functions that fill a Parameter or a float array in place.

The names and arguments follow ``torch.nn.init``: the trailing underscore marks a function
that overwrites its target, and each function returns the target it filled. Every random
function requires ``rng``, a ``numpy.random.Generator`` or an integer seed, so a result
never depends on global random state. The values are drawn in float64 and then cast to
the target's dtype, so float32 and float64 targets get the same values up to rounding.

Fans follow PyTorch's layout, where a weight has shape (out_features, in_features, *k)
with kernel dimensions ``*k``: ``fan_in = in_features * prod(k)`` and
``fan_out = out_features * prod(k)``. For a ``Linear`` weight these are the layer's
``in_features`` and ``out_features``.

Example::

    rng = np.random.default_rng(0)
    layer = Linear(784, 128)
    init.kaiming_uniform_(layer.weight, nonlinearity="relu", rng=rng)
    init.zeros_(layer.bias)
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar, get_args

import numpy as np

from minigrad._array import Array
from minigrad._random import as_generator
from minigrad.parameter import Parameter

Target = TypeVar("Target", Parameter, Array)
"""A ``Parameter``, whose ``data`` is filled, or a writable float32 or float64 array."""

FanMode = Literal["fan_in", "fan_out"]
Nonlinearity = Literal["linear", "sigmoid", "tanh", "relu", "leaky_relu"]

_DEFAULT_NEGATIVE_SLOPE = 0.01


def calculate_gain(nonlinearity: Nonlinearity, param: float | None = None) -> float:
    r"""Return the recommended gain for a nonlinearity, with PyTorch's values.

    ================  ==================================
    nonlinearity      gain
    ================  ==================================
    ``"linear"``      1
    ``"sigmoid"``     1
    ``"tanh"``        5/3
    ``"relu"``        sqrt(2)
    ``"leaky_relu"``  sqrt(2 / (1 + negative_slope**2))
    ================  ==================================

    The gain scales the standard deviation of Xavier and Kaiming initialization so that
    the variance of the activations stays roughly constant from layer to layer.

    Args:
        nonlinearity: One of the names in the table.
        param: The negative slope for ``"leaky_relu"``, 0.01 when None as in PyTorch's
            ``LeakyReLU``. Other nonlinearities take no parameter.
    """
    return _gain("calculate_gain", nonlinearity, param)


def calculate_fan_in_and_fan_out(target: Parameter | Array) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight with at least two dimensions.

    For shape ``(out_features, in_features, *k)``, ``fan_in = in_features * prod(k)`` and
    ``fan_out = out_features * prod(k)``, as in PyTorch.
    """
    array = _target_array(target, "calculate_fan_in_and_fan_out")
    return _fans("calculate_fan_in_and_fan_out", array.shape)


def uniform_(
    target: Target, a: float = 0.0, b: float = 1.0, *, rng: np.random.Generator | int
) -> Target:
    """Fill ``target`` with values drawn from the uniform distribution U(a, b).

    Args:
        target: A ``Parameter`` or a writable float array, filled in place and returned.
        a: Lower bound, a finite number.
        b: Upper bound, a finite number >= ``a``.
        rng: A ``numpy.random.Generator``, or an integer seed for a new generator.
    """
    array = _target_array(target, "uniform_")
    low = _check_finite_number("uniform_", "a", a)
    high = _check_finite_number("uniform_", "b", b)
    if low > high:
        raise ValueError(
            f"uniform_: the lower bound a={a!r} is greater than the upper bound b={b!r}. Swap "
            f"them."
        )
    if not math.isfinite(high - low):
        raise ValueError(
            f"uniform_: the range b - a = {b!r} - {a!r} overflows to infinity. Pass bounds "
            f"whose difference is finite."
        )
    generator = as_generator(rng, "uniform_", allow_none=False)

    _store("uniform_", array, generator.uniform(low, high, size=array.shape))
    return target


def normal_(
    target: Target, mean: float = 0.0, std: float = 1.0, *, rng: np.random.Generator | int
) -> Target:
    """Fill ``target`` with values drawn from the normal distribution N(mean, std**2).

    Args:
        target: A ``Parameter`` or a writable float array, filled in place and returned.
        mean: Mean, a finite number.
        std: Standard deviation, a finite number >= 0.
        rng: A ``numpy.random.Generator``, or an integer seed for a new generator.
    """
    array = _target_array(target, "normal_")
    center = _check_finite_number("normal_", "mean", mean)
    scale = _check_non_negative("normal_", "std", std)
    generator = as_generator(rng, "normal_", allow_none=False)

    _store("normal_", array, generator.normal(center, scale, size=array.shape))
    return target


def constant_(target: Target, val: float) -> Target:
    """Fill ``target`` with the value ``val``.

    A constant weight makes every hidden unit of a layer compute the same function and
    receive the same gradient, so the units never differ. Use it for biases, not weights.

    Args:
        target: A ``Parameter`` or a writable float array, filled in place and returned.
        val: The value, a finite number.
    """
    array = _target_array(target, "constant_")
    value = _check_finite_number("constant_", "val", val)

    _store("constant_", array, np.full(array.shape, value))
    return target


def zeros_(target: Target) -> Target:
    """Fill ``target`` with zeros; the usual initialization of a bias."""
    return constant_(target, 0.0)


def ones_(target: Target) -> Target:
    """Fill ``target`` with ones."""
    return constant_(target, 1.0)


def xavier_uniform_(target: Target, gain: float = 1.0, *, rng: np.random.Generator | int) -> Target:
    """Fill ``target`` with Xavier (Glorot) uniform values U(-bound, bound).

    ``bound = gain * sqrt(6 / (fan_in + fan_out))``, which gives the standard deviation
    ``gain * sqrt(2 / (fan_in + fan_out))``. Suited to tanh and sigmoid layers.

    Args:
        target: A ``Parameter`` or a writable float array with at least two dimensions,
            filled in place and returned.
        gain: Scale factor, a finite number >= 0; see ``calculate_gain``.
        rng: A ``numpy.random.Generator``, or an integer seed for a new generator.
    """
    std = _xavier_std("xavier_uniform_", target, gain)
    return uniform_(target, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, rng=rng)


def xavier_normal_(target: Target, gain: float = 1.0, *, rng: np.random.Generator | int) -> Target:
    """Fill ``target`` with Xavier (Glorot) normal values N(0, std**2).

    ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Args:
        target: A ``Parameter`` or a writable float array with at least two dimensions,
            filled in place and returned.
        gain: Scale factor, a finite number >= 0; see ``calculate_gain``.
        rng: A ``numpy.random.Generator``, or an integer seed for a new generator.
    """
    std = _xavier_std("xavier_normal_", target, gain)
    return normal_(target, 0.0, std, rng=rng)


def kaiming_uniform_(
    target: Target,
    a: float = 0.0,
    mode: FanMode = "fan_in",
    nonlinearity: Nonlinearity = "leaky_relu",
    *,
    rng: np.random.Generator | int,
) -> Target:
    """Fill ``target`` with Kaiming (He) uniform values U(-bound, bound).

    ``bound = gain * sqrt(3 / fan)``, which gives the standard deviation
    ``gain / sqrt(fan)``, with ``gain = calculate_gain(nonlinearity, a)`` and ``fan`` the
    fan selected by ``mode``. Suited to ReLU and LeakyReLU layers.

    Args:
        target: A ``Parameter`` or a writable float array with at least two dimensions,
            filled in place and returned.
        a: Negative slope of the ``"leaky_relu"`` that follows the layer; 0 (a ReLU) by
            default, as in PyTorch. It must be 0 for other nonlinearities.
        mode: ``"fan_in"`` (the default) keeps the variance of the forward activations,
            ``"fan_out"`` that of the backward gradients.
        nonlinearity: A name accepted by ``calculate_gain``; ``"leaky_relu"`` by default,
            as in PyTorch.
        rng: A ``numpy.random.Generator``, or an integer seed for a new generator.
    """
    std = _kaiming_std("kaiming_uniform_", target, a, mode, nonlinearity)
    return uniform_(target, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, rng=rng)


def kaiming_normal_(
    target: Target,
    a: float = 0.0,
    mode: FanMode = "fan_in",
    nonlinearity: Nonlinearity = "leaky_relu",
    *,
    rng: np.random.Generator | int,
) -> Target:
    """Fill ``target`` with Kaiming (He) normal values N(0, std**2).

    ``std = gain / sqrt(fan)``, with ``gain = calculate_gain(nonlinearity, a)`` and ``fan``
    the fan selected by ``mode``.

    Args:
        target: A ``Parameter`` or a writable float array with at least two dimensions,
            filled in place and returned.
        a: Negative slope of the ``"leaky_relu"`` that follows the layer; 0 (a ReLU) by
            default, as in PyTorch. It must be 0 for other nonlinearities.
        mode: ``"fan_in"`` (the default) or ``"fan_out"``; see ``kaiming_uniform_``.
        nonlinearity: A name accepted by ``calculate_gain``; ``"leaky_relu"`` by default.
        rng: A ``numpy.random.Generator``, or an integer seed for a new generator.
    """
    std = _kaiming_std("kaiming_normal_", target, a, mode, nonlinearity)
    return normal_(target, 0.0, std, rng=rng)


def _store(owner: str, array: Array, values: Array) -> None:
    """Write float64 ``values`` into ``array``, raising if any overflows its dtype."""
    with np.errstate(over="ignore"):
        converted = values.astype(array.dtype, copy=False)
    if not np.all(np.isfinite(converted)):
        raise ValueError(
            f"{owner}: the values exceed the range of the target's dtype {array.dtype}, "
            f"whose largest value is {float(np.finfo(array.dtype).max):.4g}. Pass smaller "
            f"values, or use a float64 target. The target was not changed."
        )
    array[...] = converted


def _target_array(target: object, owner: str) -> Array:
    """Return the array that ``target`` stores, after checking that it can be filled."""
    if isinstance(target, Parameter):
        return target.data
    if not isinstance(target, np.ndarray):
        raise TypeError(
            f"{owner}: target must be a Parameter or a numpy array, got "
            f"{type(target).__name__}. Pass layer.weight or an array to fill in place."
        )
    if target.dtype.kind != "f":
        raise TypeError(
            f"{owner}: target must have a floating-point dtype, got {target.dtype}. "
            f"Create it with dtype=np.float64 or np.float32."
        )
    if not target.flags.writeable:
        raise ValueError(
            f"{owner}: target is read-only, so it cannot be filled in place. Pass a "
            f"writable array, for example a copy."
        )
    return target


def _gain(owner: str, nonlinearity: object, param: object) -> float:
    if nonlinearity not in get_args(Nonlinearity):
        raise ValueError(
            f"{owner}: nonlinearity must be one of {list(get_args(Nonlinearity))}, "
            f"got {nonlinearity!r}."
        )
    if nonlinearity != "leaky_relu":
        if param is not None:
            raise ValueError(
                f"{owner}: nonlinearity {nonlinearity!r} takes no parameter, got "
                f"param={param!r}. Pass param only with 'leaky_relu'."
            )
        if nonlinearity == "tanh":
            return 5.0 / 3.0
        if nonlinearity == "relu":
            return math.sqrt(2.0)
        return 1.0

    negative_slope = _DEFAULT_NEGATIVE_SLOPE if param is None else param
    slope = _check_finite_number(owner, "param", negative_slope)
    return math.sqrt(2.0 / (1.0 + slope**2))


def _fans(owner: str, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(
            f"{owner}: fan_in and fan_out need a weight with at least two dimensions "
            f"(out_features, in_features, ...), got shape {shape}. Use uniform_, normal_ "
            f"or zeros_ for a bias."
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _xavier_std(owner: str, target: object, gain: float) -> float:
    array = _target_array(target, owner)
    scale = _check_non_negative(owner, "gain", gain)
    fan_in, fan_out = _fans(owner, array.shape)
    if array.size == 0:
        return 0.0
    return scale * math.sqrt(2.0 / (fan_in + fan_out))


def _kaiming_std(owner: str, target: object, a: float, mode: object, nonlinearity: object) -> float:
    array = _target_array(target, owner)
    if nonlinearity not in get_args(Nonlinearity):
        raise ValueError(
            f"{owner}: nonlinearity must be one of {list(get_args(Nonlinearity))}, got "
            f"{nonlinearity!r}."
        )
    if mode not in get_args(FanMode):
        raise ValueError(
            f"{owner}: mode must be 'fan_in' or 'fan_out', got {mode!r}. Use 'fan_in' to "
            f"keep the variance of the activations."
        )
    slope = _check_finite_number(owner, "a", a)
    if nonlinearity != "leaky_relu" and slope != 0:
        raise ValueError(
            f"{owner}: a={a!r} is the negative slope of 'leaky_relu', but nonlinearity is "
            f"{nonlinearity!r}. Pass nonlinearity='leaky_relu', or leave a at 0."
        )
    gain = _gain(owner, nonlinearity, slope if nonlinearity == "leaky_relu" else None)
    fan_in, fan_out = _fans(owner, array.shape)
    if array.size == 0:
        return 0.0
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def _check_finite_number(owner: str, name: str, value: object) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` unless it is a finite real number."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
    ):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}.")
    return float(value)


def _check_non_negative(owner: str, name: str, value: object) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` unless it is finite and >= 0."""
    number = _check_finite_number(owner, name, value)
    if number < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}.")
    return number
