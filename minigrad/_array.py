"""Conversion and validation of the arrays that users pass to layers and losses."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
"""Any numpy array. Layers accept array-likes at run time and always return arrays."""

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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
        # float16 is widened to float32. np.longdouble is narrowed to float64, where a value
        # beyond float64's range becomes inf with numpy's overflow warning.
        target = np.dtype(np.float32 if array.dtype.itemsize < 4 else np.float64)
    else:
        raise TypeError(
            f"{owner!r}: {name} must contain real numbers, got dtype {array.dtype}. "
            f"Convert it first, for example with np.asarray({name}, dtype=np.float64)."
        )
    # C order makes every memory layout (Fortran, transposed, strided, broadcast) compute
    # the same bits as a contiguous copy: BLAS may round differently for other layouts.
    return array.astype(target, order="C", copy=False)


def is_private(array: Array, source: object) -> bool:
    """Return True if nobody but minigrad can write to ``array``'s memory.

    That holds for an array that conversion just created from ``source`` (a list, or a cast
    from another dtype), and for a read-only array that owns its memory, such as the outputs
    that layers mark read-only because their ``backward`` reads them. A caller's writable
    array, or any view, may change after the call and must be copied before it is cached.
    """
    if not array.flags.owndata:
        return False
    return array is not source or not array.flags.writeable


def freeze(array: Array) -> Array:
    """Mark ``array`` read-only in place and return it."""
    array.flags.writeable = False
    return array


def check_float_dtype(owner: object, dtype: npt.DTypeLike) -> None:
    """Raise ``TypeError`` unless ``dtype`` is float32 or float64, the parameter dtypes."""
    if np.dtype(dtype) not in FLOAT_DTYPES:
        raise TypeError(
            f"{owner}: dtype must be float32 or float64, got {np.dtype(dtype)}. "
            f"Pass dtype=np.float64 (the default) or dtype=np.float32."
        )
