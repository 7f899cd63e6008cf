"""Tests of minigrad.save, minigrad.load and minigrad.read_state_dict."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minigrad
from minigrad import Linear, Sequential, Sigmoid


def make_model(seed: int, dtype: type = np.float64) -> Sequential:
    return Sequential(
        Linear(3, 4, rng=seed, dtype=dtype), Sigmoid(), Linear(4, 2, rng=seed + 100, dtype=dtype)
    )


def snapshot(module: minigrad.Module) -> dict[str, bytes]:
    return {name: parameter.data.tobytes() for name, parameter in module.named_parameters()}


class MarkerPayload:
    """An object whose unpickling creates the folder ``path``, standing in for any code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def test_save_load_round_trip(tmp_path: Path) -> None:
    source = make_model(0)
    target = make_model(1)
    path = tmp_path / "model.npz"

    minigrad.save(source, path)
    result = minigrad.load(target, path)

    assert result == minigrad.LoadResult(missing_keys=[], unexpected_keys=[])
    assert snapshot(target) == snapshot(source)


def test_save_keeps_float32(tmp_path: Path) -> None:
    source = make_model(0, np.float32)
    target = make_model(1, np.float32)
    path = tmp_path / "model.npz"

    minigrad.save(source, path)
    minigrad.load(target, path)

    with np.load(path, allow_pickle=False) as archive:
        assert archive["0.weight"].dtype == np.float32
    assert snapshot(target) == snapshot(source)


def test_saved_file_plain_numpy(tmp_path: Path) -> None:
    model = make_model(0)
    path = tmp_path / "model.npz"

    minigrad.save(model, path)

    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(
            ["__format_version__", "0.weight", "0.bias", "2.weight", "2.bias"]
        )
        assert archive["__format_version__"].shape == ()
        assert int(archive["__format_version__"]) == minigrad.FORMAT_VERSION
        np.testing.assert_array_equal(archive["2.bias"], model.state_dict()["2.bias"])


def test_format_version_is_one() -> None:
    assert minigrad.FORMAT_VERSION == 1
    assert minigrad.SUPPORTED_FORMAT_VERSIONS == (1,)


def test_save_adds_no_suffix(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"

    minigrad.save(make_model(0), str(path))

    assert sorted(os.listdir(tmp_path)) == ["weights.bin"]


def test_save_replaces_old_file(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(make_model(0), path)
    newer = make_model(1)

    minigrad.save(newer, path)

    assert minigrad.read_state_dict(path).keys() == newer.state_dict().keys()
    assert snapshot(newer) == {
        name: values.tobytes() for name, values in minigrad.read_state_dict(path).items()
    }
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_read_state_dict_values(tmp_path: Path) -> None:
    model = make_model(0)
    path = tmp_path / "model.npz"
    minigrad.save(model, path)

    state = minigrad.read_state_dict(path)

    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, values in model.state_dict().items():
        np.testing.assert_array_equal(state[name], values)


def test_unpickling_payload_works(tmp_path: Path) -> None:
    # Shows that the payload used below would create its marker if anything unpickled it.
    marker = tmp_path / "marker"

    pickle.loads(pickle.dumps(MarkerPayload(marker)))

    assert marker.exists()


def write_object_npz(path: Path, marker: Path) -> None:
    payload = np.array([MarkerPayload(marker)], dtype=object)
    np.savez(path, **{"__format_version__": np.array(1), "0.weight": payload})


def write_object_npy(path: Path, marker: Path) -> None:
    # A file object, because np.save would add ".npy" to a path.
    with open(path, "wb") as file:
        np.save(file, np.array([MarkerPayload(marker)], dtype=object))


def write_plain_pickle(path: Path, marker: Path) -> None:
    with open(path, "wb") as file:
        pickle.dump({"0.weight": MarkerPayload(marker)}, file)


def write_pickle_protocol_0(path: Path, marker: Path) -> None:
    with open(path, "wb") as file:
        pickle.dump({"0.weight": MarkerPayload(marker)}, file, protocol=0)


@pytest.mark.parametrize(
    ("writer", "message"),
    [
        (write_object_npz, r"entry '0.weight' .* has dtype object"),
        (write_object_npy, r"is a single \.npy array"),
        (write_plain_pickle, r"is a Python pickle"),
        (write_pickle_protocol_0, r"is not an \.npz archive"),
    ],
    ids=["npz-object", "npy-object", "pickle", "pickle-protocol-0"],
)
def test_load_never_unpickles(tmp_path: Path, writer: object, message: str) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "weights.npz"
    writer(path, marker)  # type: ignore[operator]
    model = make_model(0)
    before = snapshot(model)

    with pytest.raises(ValueError, match=message):
        minigrad.load(model, path)

    assert not marker.exists()
    assert snapshot(model) == before


def test_read_never_unpickles_npy(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "weights.npy"
    write_object_npy(path, marker)

    with pytest.raises(ValueError, match=r"never unpickles"):
        minigrad.read_state_dict(path)

    assert not marker.exists()


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    return buffer.getvalue()


def test_load_rejects_raw_member(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    write_zip(
        path,
        {"__format_version__.npy": npy_bytes(np.array(1)), "notes.txt": b"not an array"},
    )

    message = r"contains the member 'notes.txt', which is not a \.npy array"
    with pytest.raises(ValueError, match=message):
        minigrad.read_state_dict(path)


def test_load_rejects_bool_entry(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, __format_version__=np.array(1), bias=np.ones(4, dtype=bool))

    with pytest.raises(ValueError, match=r"entry 'bias' .* has dtype bool"):
        minigrad.read_state_dict(path)


def test_load_rejects_missing_version(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, **make_model(0).state_dict())
    model = make_model(1)
    before = snapshot(model)

    with pytest.raises(ValueError, match=r"no '__format_version__' entry.*reads format versions 1"):
        minigrad.load(model, path)

    assert snapshot(model) == before


def test_load_rejects_unknown_version(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, __format_version__=np.array(99), **make_model(0).state_dict())
    model = make_model(1)
    before = snapshot(model)

    with pytest.raises(ValueError, match=r"format version 99, but .* reads format versions 1 "):
        minigrad.load(model, path)

    assert snapshot(model) == before


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (np.array(1.0), r"invalid '__format_version__' entry \(dtype float64, shape \(\)\)"),
        (np.array([1]), r"invalid '__format_version__' entry \(dtype int64, shape \(1,\)\)"),
        (np.array("1"), r"invalid '__format_version__' entry \(dtype <U1, shape \(\)\)"),
    ],
    ids=["float", "1-d", "str"],
)
def test_load_rejects_invalid_version(tmp_path: Path, version: np.ndarray, message: str) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, __format_version__=version, **make_model(0).state_dict())

    with pytest.raises(ValueError, match=message):
        minigrad.read_state_dict(path)


def test_load_rejects_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(make_model(0), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    model = make_model(1)
    before = snapshot(model)

    with pytest.raises(ValueError, match=r"is a damaged or unsupported \.npz archive"):
        minigrad.load(model, path)

    assert snapshot(model) == before


def test_load_rejects_corrupted_member(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    model = make_model(0)
    minigrad.save(model, path)
    data = bytearray(path.read_bytes())
    # Flip a byte inside the stored weight values, so the member's CRC-32 no longer matches.
    offset = data.index(model.state_dict()["0.weight"].tobytes()) + 5
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(ValueError, match=r"is a damaged or unsupported \.npz archive .*CRC"):
        minigrad.read_state_dict(path)


def test_load_rejects_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"")

    with pytest.raises(ValueError, match=r"'.*model\.npz' is empty"):
        minigrad.read_state_dict(path)


def test_load_mismatched_architecture(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(Sequential(Linear(3, 5, rng=0), Sigmoid(), Linear(5, 2, rng=1)), path)
    model = make_model(1)
    before = snapshot(model)

    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(5, 3\), but .* \(4, 3\)"):
        minigrad.load(model, path)

    assert snapshot(model) == before


def test_load_non_strict_from_file(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(Sequential(Linear(3, 4, rng=0)), path)
    model = make_model(1)

    result = minigrad.load(model, path, strict=False)

    assert result.missing_keys == ["2.weight", "2.bias"]
    assert result.unexpected_keys == []


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.npz"

    with pytest.raises(FileNotFoundError, match=r"absent\.npz.*does not exist"):
        minigrad.load(make_model(0), path)


def test_load_folder_path(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match=r"is a folder, not a saved model"):
        minigrad.load(make_model(0), tmp_path)


def test_load_swapped_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"first argument must be a Module, got PosixPath"):
        minigrad.load(tmp_path / "model.npz", make_model(0))  # type: ignore[arg-type]


def test_save_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "model.npz"

    with pytest.raises(FileNotFoundError, match=r"the folder .*absent' does not exist"):
        minigrad.save(make_model(0), path)

    assert os.listdir(tmp_path) == []


def test_save_to_folder_path(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match=r"is a folder\. Pass a file path"):
        minigrad.save(make_model(0), tmp_path)

    assert os.listdir(tmp_path) == []


def test_save_rejects_non_finite(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(make_model(0), path)
    old = path.read_bytes()
    model = make_model(1)
    model[2].bias.data[1] = np.nan  # type: ignore[union-attr]

    with pytest.raises(ValueError, match=r"parameter '2\.bias' contains 1 NaN .* Nothing"):
        minigrad.save(model, path)

    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(make_model(0), path)
    old = path.read_bytes()
    calls = []

    def failing_write(file: object, values: np.ndarray, **kwargs: object) -> None:
        calls.append(values.shape)
        if len(calls) == 3:
            file.write(b"partial")  # type: ignore[attr-defined]
            raise OSError("disk full")
        original_write(file, values, **kwargs)

    original_write = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", failing_write)

    with pytest.raises(OSError, match="disk full"):
        minigrad.save(make_model(1), path)

    assert len(calls) == 3
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


# The child saves a second model over the first one, but its third array write stops
# halfway: it writes half of the array's bytes, reports the temporary file and waits to be
# killed. np.lib.format.write_array is the function minigrad.save calls for each array.
KILLED_SAVE_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import minigrad

    path = sys.argv[1]
    model = minigrad.Sequential(
        minigrad.Linear(64, 64, rng=1), minigrad.Sigmoid(), minigrad.Linear(64, 64, rng=2)
    )
    original_write = np.lib.format.write_array
    calls = []

    def stalled_write(file, values, **kwargs):
        calls.append(values.shape)
        if len(calls) < 4:
            return original_write(file, values, **kwargs)
        file.write(values.tobytes()[: values.nbytes // 2])
        print("stalled", values.shape, flush=True)
        time.sleep(600)

    np.lib.format.write_array = stalled_write
    minigrad.save(model, path)
    print("finished", flush=True)
    """
)


def test_killed_save_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    old_model = Sequential(Linear(64, 64, rng=10), Sigmoid(), Linear(64, 64, rng=20))
    minigrad.save(old_model, path)
    old_bytes = path.read_bytes()

    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVE_CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout is not None else ""
        temporary_files = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
        temporary_size = os.path.getsize(tmp_path / temporary_files[0]) if temporary_files else 0
    finally:
        child.kill()
        _, errors = child.communicate(timeout=60)

    assert line == "stalled (64, 64)\n", errors
    assert path.read_bytes() == old_bytes
    # The first weight (32 KiB) and half of the second reached the temporary file, so the
    # child was killed in the middle of the write.
    assert temporary_size > 32 * 1024
    restored = Sequential(Linear(64, 64, rng=3), Sigmoid(), Linear(64, 64, rng=4))
    minigrad.load(restored, path)
    assert snapshot(restored) == snapshot(old_model)
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["2.bias"], old_model.state_dict()["2.bias"])


def test_save_reserved_name(tmp_path: Path) -> None:
    class Odd(minigrad.Module):
        def __init__(self) -> None:
            setattr(self, "__format_version__", minigrad.Parameter(np.zeros(1)))  # noqa: B010

    with pytest.raises(ValueError, match=r"reserves for its version"):
        minigrad.save(Odd(), tmp_path / "model.npz")

    assert os.listdir(tmp_path) == []


def test_save_file_mode_follows_umask(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    reference = tmp_path / "reference"
    reference.write_bytes(b"")

    minigrad.save(make_model(0), path)

    assert path.stat().st_mode == reference.stat().st_mode


# Targets that save must not replace, and paths that load must not open


def test_save_refuses_fifo(tmp_path: Path) -> None:
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)

    with pytest.raises(ValueError, match=r"exists and is not a regular file"):
        minigrad.save(make_model(0), path)

    assert path.is_fifo()
    assert sorted(os.listdir(tmp_path)) == ["pipe.npz"]


def test_load_refuses_fifo(tmp_path: Path) -> None:
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)
    model = make_model(0)
    before = snapshot(model)

    with pytest.raises(ValueError, match=r"is not a regular file"):
        minigrad.load(model, path)

    assert snapshot(model) == before


def test_save_writes_through_symlink(tmp_path: Path) -> None:
    real_file = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    minigrad.save(make_model(0), real_file)
    link.symlink_to(real_file)
    source = make_model(5)
    target = make_model(6)

    minigrad.save(source, link)
    minigrad.load(target, real_file)

    assert link.is_symlink()
    assert snapshot(target) == snapshot(source)


def test_save_creates_dangling_symlink_target(tmp_path: Path) -> None:
    real_file = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    link.symlink_to(real_file)
    source = make_model(5)
    target = make_model(6)

    minigrad.save(source, link)
    minigrad.load(target, real_file)

    assert snapshot(target) == snapshot(source)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file, as open() would")
def test_save_refuses_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(make_model(0), path)
    path.chmod(0o444)
    old_bytes = path.read_bytes()

    with pytest.raises(PermissionError, match=r"is read-only, so it was not replaced"):
        minigrad.save(make_model(1), path)

    assert path.read_bytes() == old_bytes


def test_save_long_file_name(tmp_path: Path) -> None:
    path = tmp_path / ("m" * 246 + ".npz")  # 250 characters, under the usual 255 limit
    source = make_model(0)
    target = make_model(1)

    minigrad.save(source, path)
    minigrad.load(target, path)

    assert snapshot(target) == snapshot(source)


def test_save_and_load_bytes_path(tmp_path: Path) -> None:
    path = os.fsencode(tmp_path / "model.npz")
    source = make_model(0)
    target = make_model(1)

    minigrad.save(source, path)  # type: ignore[arg-type]
    minigrad.load(target, path)  # type: ignore[arg-type]

    assert snapshot(target) == snapshot(source)


def test_save_empty_path_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^minigrad\.save: path is empty"):
        minigrad.save(make_model(0), "")


def test_load_path_below_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    minigrad.save(make_model(0), path)

    with pytest.raises(FileNotFoundError, match=r"a part of the path is a file"):
        minigrad.load(make_model(1), path / "inner.npz")


# Crafted archives


def crafted_archive(path: Path, extra: dict[str, bytes]) -> None:
    members = {"__format_version__.npy": npy_bytes(np.array(1)), **extra}
    write_zip(path, members)


def test_load_rejects_duplicate_member(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    layer = Linear(1, 1, rng=0)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__format_version__.npy", npy_bytes(np.array(1)))
        archive.writestr("weight.npy", npy_bytes(np.array([[1.0]])))
        archive.writestr("bias.npy", npy_bytes(np.array([0.0])))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("weight.npy", npy_bytes(np.array([[2.0]])))
    before = snapshot(layer)

    with pytest.raises(ValueError, match=r"contains the entry 'weight' twice"):
        minigrad.load(layer, path)

    assert snapshot(layer) == before


def test_load_rejects_oversized_header(tmp_path: Path) -> None:
    # The header declares 10**10 float64 values, but the member holds only one.
    header = npy_bytes(np.zeros(1))
    crafted = header.replace(b"(1,)", b"(10000000000,)")
    path = tmp_path / "model.npz"
    crafted_archive(path, {"weight.npy": crafted})

    with pytest.raises(ValueError, match=r"declares shape \(10000000000,\) .* but contains only"):
        minigrad.read_state_dict(path)


def test_load_rejects_encrypted_member(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    crafted_archive(path, {"weight.npy": npy_bytes(np.zeros(2))})
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag bit in every local and central header of the weight member.
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (position := data.find(signature, start)) != -1:
            data[position + flag_offset] |= 0x1
            start = position + 4
    path.write_bytes(bytes(data))

    with pytest.raises(ValueError, match=r"encrypted member"):
        minigrad.read_state_dict(path)


def test_load_rejects_corrupt_deflate(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__format_version__.npy", npy_bytes(np.array(1)))
        archive.writestr("weight.npy", npy_bytes(np.arange(2000.0)))
    data = bytearray(path.read_bytes())
    position = data.find(b"weight.npy") + len(b"weight.npy") + 20
    data[position : position + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))

    with pytest.raises(ValueError, match=r"damaged or unsupported \.npz archive"):
        minigrad.read_state_dict(path)


def test_version_error_lists_supported(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    write_zip(path, {"__format_version__.npy": npy_bytes(np.array("one"))})

    with pytest.raises(ValueError, match=r"reads format versions 1"):
        minigrad.read_state_dict(path)
