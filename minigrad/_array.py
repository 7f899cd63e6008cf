"""Conversion and validation of the arrays that users pass to layers and losses."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
"""Any numpy array. Layers accept array-likes at run time and always return arrays."""

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)

# Weak references to the arrays that minigrad itself marked read-only, keyed by id. Only for
# these is read-only a guarantee: a caller's read-only array may still change through a
# writable view of it. A plain dict of weak references with a removal callback costs less
# per call than weakref.WeakValueDictionary, and freeze runs in every forward of Sigmoid.
_frozen_arrays: dict[int, weakref.ref[Array]] = {}


def as_float_array(
    value: Any, *, owner: object, name: str, dtype: npt.DTypeLike | None = None
) -> Array:
    """Convert ``value`` to a real floating-point array without touching the original.

    Integer and unsigned input is converted to ``dtype`` (float64 when ``dtype`` is None),
    so uint8 pixels never wrap around. Float32 and float64 input keeps its dtype unless
    ``dtype`` is given. Without ``dtype``, float16 input becomes float32, which represents every
    float16 value exactly, so results such as a sum of squares are not limited to
    float16's maximum of 65504. ``np.longdouble`` input becomes float64. Booleans, complex
    numbers, strings and objects raise ``TypeError``, because a silent conversion of them
    would hide a bug in the caller's data.

    The result is C-contiguous. It is ``value`` itself when that is already a C-contiguous
    array of the target dtype, and otherwise a new array, so the caller's array is never
    written to.

    ``owner`` is the layer or loss that received the value; its ``repr`` starts every message.
    """
    # Fast path for the common case, which returns the same array as the general path below.
    if type(value) is np.ndarray and value.flags.c_contiguous:
        value_dtype = value.dtype
        if (value_dtype is _FLOAT64 or value_dtype is _FLOAT32) and (
            dtype is None or dtype is value_dtype
        ):
            return value
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"{owner!r}: {name} could not be converted to a numeric array ({error}). "
            f"Pass a numpy array of numbers with a regular shape."
        ) from error

    kind = array.dtype.kind
    if kind in "iu":
        target = np.dtype(np.float64 if dtype is None else dtype)
    elif kind == "f" and dtype is not None:
        target = np.dtype(dtype)
    elif kind == "f" and array.dtype in FLOAT_DTYPES:
        target = array.dtype
    elif kind == "f":
        # float16 is widened to float32. np.longdouble is narrowed to float64, and a value
        # beyond float64's range raises in _narrow.
        target = np.dtype(np.float32 if array.dtype.itemsize < 4 else np.float64)
    else:
        raise TypeError(
            f"{owner!r}: {name} must contain real numbers, got dtype {array.dtype}. "
            f"Convert it first, for example with np.asarray({name}, dtype=np.float64)."
        )
    if kind == "f" and target.itemsize < array.dtype.itemsize:
        return _narrow(array, target, owner=owner, name=name)
    # C order makes every memory layout (Fortran, transposed, strided, broadcast) compute
    # the same bits as a contiguous copy: BLAS may round differently for other layouts.
    return array.astype(target, order="C", copy=False)


def _narrow(array: Array, target: np.dtype[Any], *, owner: object, name: str) -> Array:
    """Cast ``array`` to the narrower float ``target``, raising where a finite value overflows."""
    with np.errstate(over="ignore"):
        narrowed = array.astype(target, order="C")
    overflow = np.isinf(narrowed) & np.isfinite(array)
    if overflow.any():
        index = tuple(int(i) for i in np.argwhere(overflow)[0])
        raise ValueError(
            f"{owner!r}: {name} has values outside the {target} range, for example "
            f"{float(array[index]):.6g} at index {index}, and the largest {target} is "
            f"{float(np.finfo(target).max):.4g}. Rescale the input, or build the model with "
            f"dtype=np.float64."
        )
    return narrowed


def is_private(array: Array, source: object) -> bool:
    """Return True if no code outside minigrad can write to ``array``'s memory.

    That holds for an array that conversion allocated from a Python list, tuple or number,
    or from a numpy array of another dtype or layout. It also holds for an output that a
    layer marked read-only with ``freeze``, because its ``backward`` reads it. Any other
    array may change after the call, because the caller or an array-like object (a torch
    tensor, an object with ``__array__``) can keep the memory. So a layer must copy it
    before caching it.
    """
    if array is source:
        if array.flags.writeable:
            return False
        reference = _frozen_arrays.get(id(array))
        return reference is not None and reference() is array
    if isinstance(source, np.ndarray):
        return bool(array.flags.owndata) and not np.may_share_memory(array, source)
    return isinstance(source, (list, tuple, int, float)) and bool(array.flags.owndata)


def freeze(array: Array) -> Array:
    """Mark ``array``, which a layer created and caches, read-only in place and return it."""
    array.setflags(write=False)
    key = id(array)
    _frozen_arrays[key] = weakref.ref(array, lambda reference: _forget_frozen(key, reference))
    return array


def _forget_frozen(key: int, reference: weakref.ref[Array]) -> None:
    # A new array may already have taken over the id, so only this reference's entry goes.
    if _frozen_arrays.get(key) is reference:
        del _frozen_arrays[key]


def check_float_dtype(owner: object, dtype: npt.DTypeLike) -> None:
    """Raise ``TypeError`` unless ``dtype`` is float32 or float64, the parameter dtypes."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(
            f"{owner}: dtype must be float32 or float64, got {dtype!r}, which is not a numpy "
            f"dtype. Pass dtype=np.float64 (the default) or dtype=np.float32."
        ) from error
    if resolved not in FLOAT_DTYPES:
        raise TypeError(
            f"{owner}: dtype must be float32 or float64, got {resolved}. "
            f"Pass dtype=np.float64 (the default) or dtype=np.float32."
        )
