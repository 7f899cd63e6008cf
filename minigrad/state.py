"""Copy a module's parameters out and in as a whole: state dicts and dtype changes.

Every function here validates all parameters before it changes the first one, so a failed
call leaves the model bit-for-bit as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from minigrad._array import Array, check_float_dtype

if TYPE_CHECKING:
    from minigrad.module import Module
    from minigrad.parameter import Parameter

NUMERIC_KINDS = "iuf"
"""``dtype.kind`` letters of the values that a state may contain: signed and unsigned
integers and real floats. Booleans, complex numbers, strings and objects are rejected."""


class LoadResult(NamedTuple):
    """Names that ``load_state_dict`` skipped, which can be non-empty only with strict=False."""

    missing_keys: list[str]
    """Parameters of the module that the state has no entry for. They keep their values."""

    unexpected_keys: list[str]
    """Entries of the state that name no parameter of the module. They are ignored."""


def state_dict(module: Module) -> dict[str, Array]:
    """Return a copy of every parameter's values, keyed by its dotted name."""
    return {name: parameter.data.copy() for name, parameter in module.named_parameters()}


def load_state_dict(
    module: Module, state: Mapping[str, npt.ArrayLike], *, strict: bool = True
) -> LoadResult:
    """Copy the values in ``state`` into the module's parameters, all or nothing.

    See ``Module.load_state_dict`` for the rules.
    """
    owner = f"{type(module).__name__}.load_state_dict"
    if not isinstance(state, Mapping):
        raise TypeError(
            f"{owner}: state must be a mapping from parameter names to arrays, got "
            f"{type(state).__name__}. Pass model.state_dict() or minigrad.read_state_dict(path)."
        )
    if not isinstance(strict, (bool, np.bool_)):
        raise TypeError(f"{owner}: strict must be True or False, got {strict!r}.")

    parameters = dict(module.named_parameters())
    missing = [name for name in parameters if name not in state]
    unexpected = [key for key in state if key not in parameters]
    if strict and (missing or unexpected):
        raise ValueError(_describe_key_mismatch(owner, parameters, state, missing, unexpected))

    # Every value is converted to a private copy before the first parameter changes, so a
    # bad entry anywhere leaves every parameter as it was. The copies also make a state
    # whose arrays are the parameters' own arrays (for example swapped) load correctly.
    converted = [
        (parameters[name], _convert_entry(owner, name, state[name], parameters[name]))
        for name in parameters
        if name in state
    ]
    for parameter, values in converted:
        parameter.data[...] = values
    return LoadResult(missing_keys=missing, unexpected_keys=[str(key) for key in unexpected])


def convert_dtype(module: Module, dtype: npt.DTypeLike) -> None:
    """Convert every parameter's ``data`` and ``grad`` to ``dtype``, all or nothing.

    See ``Module.to`` for the rules.
    """
    owner = f"{type(module).__name__}.to"
    check_float_dtype(owner, dtype)
    target = np.dtype(dtype)

    converted: list[tuple[Parameter, Array, Array]] = []
    for name, parameter in module.named_parameters():
        if parameter.dtype == target:
            continue
        data = _cast_checked(owner, f"parameter {name!r}", parameter.data, target)
        grad = _cast_checked(owner, f"the gradient of {name!r}", parameter.grad, target)
        converted.append((parameter, data, grad))

    for parameter, data, grad in converted:
        parameter._replace_arrays(data, grad)


def _convert_entry(owner: str, name: str, value: Any, parameter: Parameter) -> Array:
    expected = f"parameter {name!r} has shape {parameter.shape} and dtype {parameter.dtype}"
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{owner}: state entry {name!r} could not be converted to an array ({error}), "
            f"but {expected}. Pass a numpy array of numbers."
        ) from error

    if array.dtype.kind not in NUMERIC_KINDS:
        raise ValueError(
            f"{owner}: state entry {name!r} has dtype {array.dtype} and shape {array.shape}, "
            f"but {expected}. Only integer and real float values can be loaded; convert the "
            f"entry with np.asarray(value, dtype=np.float64)."
        )
    if array.shape != parameter.shape:
        raise ValueError(
            f"{owner}: state entry {name!r} has shape {array.shape}, but {expected}. Shapes "
            f"must match exactly, because loading never broadcasts. Load a state saved from a "
            f"model with the same layer sizes."
        )
    return _cast_checked(owner, f"state entry {name!r}", array, parameter.dtype)


def _cast_checked(owner: str, label: str, array: Array, dtype: np.dtype[Any]) -> Array:
    """Cast ``array`` to ``dtype`` in a new array, rejecting NaN, inf and overflow."""
    # Overflow is reported below with the parameter's name, so numpy's warning is silenced.
    with np.errstate(over="ignore", invalid="ignore"):
        result: Array = np.array(array, dtype=dtype, copy=True)

    finite = np.isfinite(result)
    if finite.all():
        return result
    source_non_finite = int(np.count_nonzero(~np.isfinite(array))) if array.dtype.kind == "f" else 0
    if source_non_finite:
        raise ValueError(
            f"{owner}: {label} contains {source_non_finite} NaN or infinite values. Values "
            f"must be finite; replace them, or load a state saved before training diverged."
        )
    maximum = float(np.finfo(dtype).max)
    raise ValueError(
        f"{owner}: {label} has {int(np.count_nonzero(~finite))} values beyond the {dtype} "
        f"range of +-{maximum:.3g}, which would become infinite. Keep the parameters in "
        f"float64, or scale the values down."
    )


def _describe_key_mismatch(
    owner: str,
    parameters: Mapping[str, Parameter],
    state: Mapping[Any, Any],
    missing: list[str],
    unexpected: list[Any],
) -> str:
    parts = []
    if missing:
        listed = ", ".join(f"{name!r} (shape {parameters[name].shape})" for name in missing)
        parts.append(f"missing entries for parameters {listed}")
    if unexpected:
        listed = ", ".join(f"{key!r} (shape {_shape_text(state[key])})" for key in unexpected)
        parts.append(f"unexpected entries {listed}, which name no parameter")
    return (
        f"{owner}: the state does not match the module's parameters: {'; '.join(parts)}. "
        f"Nothing was loaded. The module's parameters are {list(parameters)}. Load a state "
        f"saved from the same architecture, or pass strict=False to load only matching names."
    )


def _shape_text(value: Any) -> str:
    try:
        return str(np.shape(value))
    except (ValueError, TypeError):
        return "unknown"
