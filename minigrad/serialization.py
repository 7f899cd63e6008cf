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
import math
import os
import stat
import tempfile
import zipfile
import zlib
from typing import BinaryIO

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
    raises, but a killed process can leave a file named ``.minigrad-<random>.tmp`` behind,
    which is safe to delete. No suffix is added to ``path``, unlike ``np.savez``. When
    ``path`` is a symbolic link, the file it points to is replaced.

    Raises ``ValueError`` before writing anything when a parameter contains NaN or
    infinity, because ``load`` would reject that file, or when ``path`` is empty or exists
    as something other than a regular file (a device or a FIFO). Raises
    ``FileNotFoundError`` when the folder does not exist, ``IsADirectoryError`` when
    ``path`` is a folder, and ``PermissionError`` when the existing file is read-only.
    """
    _check_module("save", module)
    target = _resolve_target(os.fsdecode(path))
    state = module.state_dict()
    _check_state_to_save(module, state)
    folder = os.path.dirname(target)

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

    The archive is read member by member with ``allow_pickle=False``, and no code from the
    file runs. ``ValueError`` naming the file is raised for a file that is not an ``.npz``
    archive (such as a pickle or a single ``.npy`` array) and for a missing or unsupported
    format version. It is also raised for a member that is damaged, encrypted, duplicated,
    not a ``.npy`` array, non-numeric (object arrays included), or whose header declares
    more data than the member contains.

    Raises ``FileNotFoundError`` when ``path`` does not exist, ``IsADirectoryError`` when
    it is a folder, and ``ValueError`` when it is another kind of non-regular file, such as
    a FIFO or a device.
    """
    source = os.fsdecode(path)
    _check_regular_file_to_read(source)

    with open(source, "rb") as file:
        _check_magic(source, file.read(len(_NPY_MAGIC)))
        file.seek(0)
        try:
            entries = _read_archive(source, file)
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as error:
            raise ValueError(
                f"minigrad: {source!r} is a damaged or unsupported .npz archive ({error}). "
                f"Load an intact copy, or save the model again."
            ) from error

    return entries


def _check_regular_file_to_read(source: str) -> None:
    try:
        mode = os.stat(source).st_mode
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"minigrad: no saved model at {source!r}: the file does not exist. Check the path, "
            f"or save a model there first with minigrad.save(model, path)."
        ) from error
    except NotADirectoryError as error:
        raise FileNotFoundError(
            f"minigrad: no saved model at {source!r}: a part of the path is a file, not a "
            f"folder. Check the path."
        ) from error
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            f"minigrad: {source!r} is a folder, not a saved model. Pass the path of a file "
            f"written by minigrad.save."
        )
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"minigrad: {source!r} is not a regular file (it may be a FIFO, a socket or a "
            f"device), so it was not read. Pass the path of a file written by minigrad.save."
        )


def _read_archive(source: str, file: BinaryIO) -> dict[str, Array]:
    """Read every member of the archive, the format version first."""
    with zipfile.ZipFile(file) as archive:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            name = _member_name(source, info)
            if name in members:
                raise ValueError(
                    f"minigrad: {source!r} contains the entry {name!r} twice, so it is "
                    f"ambiguous which values to load. Save the model again."
                )
            members[name] = info

        version_info = members.pop(VERSION_KEY, None)
        version = None
        if version_info is not None:
            version = _read_member(source, archive, version_info, numeric_only=False)
        _check_version(source, version)
        return {name: _read_member(source, archive, info) for name, info in members.items()}


def _member_name(source: str, info: zipfile.ZipInfo) -> str:
    if not info.filename.endswith(".npy") or info.is_dir():
        raise ValueError(
            f"minigrad: {source!r} contains the member {info.filename!r}, which is not a .npy "
            f"array, so it is not a model saved by minigrad.save. The file was not loaded."
        )
    if info.flag_bits & 0x1:
        raise ValueError(
            f"minigrad: {source!r} contains the encrypted member {info.filename!r}, which "
            f"minigrad does not read. Save the model again with minigrad.save."
        )
    return info.filename[: -len(".npy")]


def _read_member(
    source: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, numeric_only: bool = True
) -> Array:
    """Read one ``.npy`` member, rejecting object arrays and, if ``numeric_only``, any dtype
    that is not integer or float."""
    name = info.filename[: -len(".npy")]
    with archive.open(info) as member:
        try:
            version = npy_format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = npy_format.read_array_header_2_0(member)
            else:
                raise ValueError(f".npy format version {version} is not read by minigrad")
        except ValueError as error:
            raise ValueError(
                f"minigrad: entry {name!r} of {source!r} has an invalid .npy header ({error}). "
                f"The file was not loaded. Save the weights with minigrad.save(model, path)."
            ) from error

        if dtype.hasobject or (numeric_only and dtype.kind not in NUMERIC_KINDS):
            raise ValueError(
                f"minigrad: entry {name!r} of {source!r} has dtype {dtype}, but saved "
                f"parameters are integer or float arrays. The file was not loaded, and "
                f"nothing in it was unpickled. Save the weights with "
                f"minigrad.save(model, path)."
            )
        declared_bytes = math.prod(shape) * dtype.itemsize
        if declared_bytes > info.file_size:
            raise ValueError(
                f"minigrad: entry {name!r} of {source!r} declares shape {shape} "
                f"({declared_bytes} bytes) but contains only {info.file_size} bytes. The "
                f"file is damaged or crafted, and was not loaded."
            )
        member.seek(0)
        value: Array = npy_format.read_array(member, allow_pickle=False)
    return value


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


def _resolve_target(target: str) -> str:
    """Return the absolute path that ``save`` replaces, after checking that it may.

    A symbolic link is followed, so the file it points to is replaced, as ``open(path, "w")``
    would write through it. An existing target must be a regular file that the caller may
    write, because the rename would otherwise replace a device, a FIFO or a protected file.
    """
    if not target:
        raise ValueError("minigrad.save: path is empty. Pass a file path such as 'model.npz'.")
    resolved = os.path.realpath(target)
    folder = os.path.dirname(resolved)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"minigrad.save: the folder {folder!r} does not exist, so {target!r} cannot be "
            f"written. Create it first, for example with os.makedirs(folder, exist_ok=True)."
        )
    if not os.path.lexists(resolved):
        return resolved
    mode = os.stat(resolved).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            f"minigrad.save: {target!r} is a folder. Pass a file path such as "
            f"{os.path.join(target, 'model.npz')!r}."
        )
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"minigrad.save: {target!r} exists and is not a regular file (it may be a device, "
            f"a FIFO or a socket), so it was not replaced. Pass the path of a regular file."
        )
    if not os.access(resolved, os.W_OK):
        raise PermissionError(
            f"minigrad.save: {target!r} is read-only, so it was not replaced. Make it "
            f"writable first, or save to another path."
        )
    return resolved


def _create_temporary_file(target: str) -> tuple[str, int]:
    """Create a new, empty file next to ``target`` and return its path and descriptor.

    The name has a fixed length, so any target name that the file system accepts works.
    Like a file that ``open()`` creates, it gets mode 0o666 less the umask.
    """
    descriptor, temporary = tempfile.mkstemp(
        prefix=".minigrad-", suffix=".tmp", dir=os.path.dirname(target)
    )
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(descriptor, 0o666 & ~umask)
    return temporary, descriptor


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


def _check_version(source: str, version: Array | None) -> None:
    supported = ", ".join(map(str, SUPPORTED_FORMAT_VERSIONS))
    if version is None:
        raise ValueError(
            f"minigrad: {source!r} has no {VERSION_KEY!r} entry, so it was not written by "
            f"minigrad.save. This minigrad reads format versions {supported}. Save the "
            f"weights with minigrad.save(model, path)."
        )
    if version.shape != () or version.dtype.kind not in "iu" or version.dtype.hasobject:
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
