"""Save and load a module's parameters as a numpy ``.npz`` archive, without pickle.

The file is a zip archive with one ``.npy`` member per parameter, named by its dotted name
(``0.weight.npy``), plus a ``__format_version__.npy`` member that contains the integer format
version. Any numpy program reads it with ``np.load(path, allow_pickle=False)``.

Saving writes a temporary file in the target's folder, flushes it to disk and renames it
over the target, so a crash during the write leaves the previous file intact. Loading reads
with ``allow_pickle=False`` only, so no file can make it run code.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import zipfile
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from minigrad._array import Array
from minigrad.module import Module
from minigrad.state import NUMERIC_KINDS, LoadResult

FORMAT_VERSION = 1
"""Format version that ``save`` writes."""

SUPPORTED_FORMAT_VERSIONS = (1,)
"""Format versions that ``load`` and ``read_state_dict`` accept."""

VERSION_KEY = "__format_version__"
"""Archive member that contains the format version. No parameter may have this name."""

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_PROTOCOL_2_OR_LATER = b"\x80"

StrPath = str | os.PathLike[str]


def save(module: Module, path: StrPath) -> None:
    """Write the module's parameters to ``path`` as an ``.npz`` archive, atomically.

    The archive is first written to a temporary file next to ``path``, flushed and synced
    to disk, and then renamed over ``path``. A crash or an error during the write leaves
    any previous file at ``path`` unchanged. The temporary file is deleted when the write
    raises, but a killed process can leave a file named ``.<name>.<random>.tmp`` behind,
    which is safe to delete. No suffix is added to ``path``, unlike ``np.savez``.

    Raises ``ValueError`` before writing anything when a parameter contains NaN or
    infinity, because ``load`` would reject that file. Raises ``FileNotFoundError`` when
    the folder does not exist and ``IsADirectoryError`` when ``path`` is a folder.
    """
    _check_module("save", module)
    target = os.fspath(path)
    state = module.state_dict()
    _check_state_to_save(module, state)

    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"minigrad.save: the folder {folder!r} does not exist, so {target!r} cannot be "
            f"written. Create it first, for example with os.makedirs(folder, exist_ok=True)."
        )
    if os.path.isdir(target):
        raise IsADirectoryError(
            f"minigrad.save: {target!r} is a folder. Pass a file path such as "
            f"{os.path.join(target, 'model.npz')!r}."
        )

    temporary, descriptor = _create_temporary_file(target)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_archive(file, state)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        # BaseException, so that a KeyboardInterrupt during the write also cleans up.
        _remove_quietly(temporary)
        raise
    _sync_folder(folder)


def read_state_dict(path: StrPath) -> dict[str, Array]:
    """Read a file written by ``save`` and return its parameters as a name-to-array dict.

    The file is read with ``allow_pickle=False``: a file that is not an ``.npz`` archive
    (such as a pickle or a single ``.npy`` array), an archive member that contains an object
    array or raw bytes, a missing or unsupported format version, or a non-numeric entry
    raises ``ValueError`` naming the file, and no code from the file runs.

    Raises ``FileNotFoundError`` when ``path`` does not exist and ``IsADirectoryError``
    when it is a folder.
    """
    source = os.fspath(path)
    if os.path.isdir(source):
        raise IsADirectoryError(
            f"minigrad: {source!r} is a folder, not a saved model. Pass the path of a file "
            f"written by minigrad.save."
        )
    try:
        file = open(source, "rb")  # noqa: SIM115, closed by the with statement below
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"minigrad: no saved model at {source!r}: the file does not exist. Check the path, "
            f"or save a model there first with minigrad.save(model, path)."
        ) from error

    # np.load gets the open file rather than the path, so the file is closed even when
    # np.load raises before it returns an archive.
    with file:
        _check_magic(source, file.read(len(_NPY_MAGIC)))
        file.seek(0)
        try:
            with np.load(file, allow_pickle=False) as archive:
                entries = {name: _read_member(source, archive, name) for name in archive.files}
        except (zipfile.BadZipFile, EOFError) as error:
            raise ValueError(
                f"minigrad: {source!r} is a damaged .npz archive ({error}). Load an intact "
                f"copy, or save the model again."
            ) from error

    _check_version(source, entries.pop(VERSION_KEY, None))
    return entries


def load(module: Module, path: StrPath, *, strict: bool = True) -> LoadResult:
    """Load parameters saved by ``save`` into ``module`` in place, all or nothing.

    The file is checked by ``read_state_dict`` and its values by
    ``module.load_state_dict(state, strict)``, so any error leaves every parameter
    unchanged. Returns the ``LoadResult`` of ``load_state_dict``.
    """
    _check_module("load", module)
    return module.load_state_dict(read_state_dict(path), strict=strict)


def _check_module(function: str, module: object) -> None:
    if not isinstance(module, Module):
        raise TypeError(
            f"minigrad.{function}: the first argument must be a Module, got "
            f"{type(module).__name__}. Call minigrad.{function}(model, path)."
        )


def _check_state_to_save(module: Module, state: dict[str, Array]) -> None:
    owner = f"minigrad.save({type(module).__name__})"
    if VERSION_KEY in state:
        raise ValueError(
            f"{owner}: a parameter is named {VERSION_KEY!r}, which the file format reserves "
            f"for its version. Rename that attribute."
        )
    for name, values in state.items():
        non_finite = int(np.count_nonzero(~np.isfinite(values)))
        if non_finite:
            raise ValueError(
                f"{owner}: parameter {name!r} contains {non_finite} NaN or infinite values, "
                f"so the file could not be loaded again. Nothing was written. Save a model "
                f"from before training diverged."
            )


def _create_temporary_file(target: str) -> tuple[str, int]:
    """Create a new, empty file next to ``target`` and return its path and descriptor."""
    folder, name = os.path.split(os.path.abspath(target))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
        try:
            # Mode 0o666 lets the umask set the permissions, as for a file that open() creates.
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue


def _write_archive(file: BinaryIO, state: dict[str, Array]) -> None:
    members = {VERSION_KEY: np.array(FORMAT_VERSION, dtype=np.int64), **state}
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name, values in members.items():
            # force_zip64 as in np.savez, so members larger than 2 GiB can be written.
            with archive.open(name + ".npy", mode="w", force_zip64=True) as member:
                npy_format.write_array(member, values, allow_pickle=False)


def _sync_folder(folder: str) -> None:
    """Flush the folder entry of a rename to disk where the platform allows it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError:
        # Some file systems reject fsync on a folder. The file is complete and renamed by
        # now, and only its survival of a power cut depends on this call.
        pass
    finally:
        os.close(descriptor)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _check_magic(source: str, magic: bytes) -> None:
    if magic.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        return
    if magic.startswith(_NPY_MAGIC):
        kind = "a single .npy array"
    elif magic.startswith(_PICKLE_PROTOCOL_2_OR_LATER):
        kind = "a Python pickle"
    elif not magic:
        kind = "empty"
    else:
        kind = "not an .npz archive"
    raise ValueError(
        f"minigrad: {source!r} is {kind}, not a model saved by minigrad.save (an .npz "
        f"archive). It was not loaded, and minigrad never unpickles files. Save the weights "
        f"with minigrad.save(model, path)."
    )


def _read_member(source: str, archive: Any, name: str) -> Array:
    try:
        value = archive[name]
    except ValueError as error:
        # numpy raises ValueError for an object array, which only pickle could restore, and
        # for a damaged member.
        raise ValueError(
            f"minigrad: entry {name!r} of {source!r} is not a plain numeric array ({error}). "
            f"The file was not loaded, and nothing in it was unpickled. Save the weights "
            f"with minigrad.save(model, path), which stores numbers only."
        ) from error
    if not isinstance(value, np.ndarray):
        raise ValueError(
            f"minigrad: entry {name!r} of {source!r} is not a .npy array. The file was not "
            f"loaded. Save the weights with minigrad.save(model, path)."
        )
    if value.dtype.kind not in NUMERIC_KINDS:
        raise ValueError(
            f"minigrad: entry {name!r} of {source!r} has dtype {value.dtype}, but saved "
            f"parameters are integer or float arrays. Save the weights with "
            f"minigrad.save(model, path)."
        )
    return value


def _check_version(source: str, version: Array | None) -> None:
    supported = ", ".join(map(str, SUPPORTED_FORMAT_VERSIONS))
    if version is None:
        raise ValueError(
            f"minigrad: {source!r} has no {VERSION_KEY!r} entry, so it was not written by "
            f"minigrad.save. This minigrad reads format versions {supported}. Save the "
            f"weights with minigrad.save(model, path)."
        )
    if version.shape != () or version.dtype.kind not in "iu":
        raise ValueError(
            f"minigrad: {source!r} has an invalid {VERSION_KEY!r} entry (dtype "
            f"{version.dtype}, shape {version.shape}); it must be a single integer. This "
            f"minigrad reads format versions {supported}."
        )
    if int(version) not in SUPPORTED_FORMAT_VERSIONS:
        raise ValueError(
            f"minigrad: {source!r} has format version {int(version)}, but this minigrad "
            f"reads format versions {supported} only. Load it with the minigrad release "
            f"that saved it, or save the model again."
        )
