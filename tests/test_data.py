"""Tests of DataLoader: coverage of every sample, shuffling, drop_last and input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minigrad import DataLoader


def sample_ids(loader: DataLoader) -> list[int]:
    """Return the sample ids of one epoch, in batch order, from x that stores ids."""
    return [int(value) for x_batch, _ in loader for value in x_batch[:, 0]]


def make_arrays(sample_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return x whose row i is (i, -i) and y whose entry i is 10 * i."""
    ids = np.arange(sample_count)
    return np.column_stack([ids, -ids]), 10 * ids


@given(sample_count=st.integers(1, 60), batch_size=st.integers(1, 70), seed=st.integers(0, 9))
def test_epoch_covers_every_sample_once(sample_count: int, batch_size: int, seed: int) -> None:
    x, y = make_arrays(sample_count)
    loader = DataLoader(x, y, batch_size, shuffle=True, rng=seed)

    for _ in range(2):
        assert sorted(sample_ids(loader)) == list(range(sample_count))


@given(sample_count=st.integers(1, 60), batch_size=st.integers(1, 70))
def test_batch_sizes_without_drop_last(sample_count: int, batch_size: int) -> None:
    x, y = make_arrays(sample_count)
    loader = DataLoader(x, y, batch_size)

    sizes = [len(x_batch) for x_batch, _ in loader]

    full_batches, remainder = divmod(sample_count, batch_size)
    expected = [batch_size] * full_batches + ([remainder] if remainder else [])
    assert sizes == expected
    assert len(loader) == len(expected)


@given(sample_count=st.integers(1, 60), batch_size=st.integers(1, 60), seed=st.integers(0, 9))
def test_drop_last_skips_partial_batch(sample_count: int, batch_size: int, seed: int) -> None:
    assume(batch_size <= sample_count)
    x, y = make_arrays(sample_count)
    loader = DataLoader(x, y, batch_size, shuffle=True, rng=seed, drop_last=True)

    ids = sample_ids(loader)
    sizes = [len(x_batch) for x_batch, _ in loader]

    assert sizes == [batch_size] * (sample_count // batch_size)
    assert len(loader) == sample_count // batch_size
    assert len(set(ids)) == len(ids)
    assert len(ids) == sample_count - sample_count % batch_size


def test_shuffle_keeps_pairs_aligned() -> None:
    x, y = make_arrays(23)
    loader = DataLoader(x, y, 5, shuffle=True, rng=3)

    for x_batch, y_batch in loader:
        np.testing.assert_array_equal(y_batch, 10 * x_batch[:, 0])
        np.testing.assert_array_equal(x_batch[:, 1], -x_batch[:, 0])


def test_shuffle_order_changes_per_epoch() -> None:
    x, y = make_arrays(40)
    loader = DataLoader(x, y, 8, shuffle=True, rng=0)

    first, second = sample_ids(loader), sample_ids(loader)

    assert first != second
    assert first != list(range(40))


def test_shuffle_seed_reproduces_order() -> None:
    x, y = make_arrays(40)

    first = DataLoader(x, y, 8, shuffle=True, rng=np.random.default_rng(5))
    second = DataLoader(x, y, 8, shuffle=True, rng=5)

    assert sample_ids(first) == sample_ids(second)
    assert sample_ids(first) == sample_ids(second)


def test_shuffle_draws_from_given_generator() -> None:
    x, y = make_arrays(10)
    generator = np.random.default_rng(1)
    expected = np.random.default_rng(1).permutation(10).tolist()

    assert sample_ids(DataLoader(x, y, 4, shuffle=True, rng=generator)) == expected


def test_no_shuffle_keeps_order_as_views() -> None:
    x, y = make_arrays(7)
    loader = DataLoader(x, y, 3)

    batches = list(loader)

    assert sample_ids(loader) == list(range(7))
    assert [len(x_batch) for x_batch, _ in batches] == [3, 3, 1]
    assert all(np.shares_memory(x_batch, x) for x_batch, _ in batches)


def test_loader_leaves_global_random_state() -> None:
    x, y = make_arrays(10)
    np.random.seed(7)
    expected = np.random.random(3)
    np.random.seed(7)

    sample_ids(DataLoader(x, y, 3, shuffle=True, rng=0))

    np.testing.assert_array_equal(np.random.random(3), expected)


def test_batch_larger_than_data() -> None:
    x, y = make_arrays(5)
    loader = DataLoader(x, y, 100)

    assert len(loader) == 1
    assert sample_ids(loader) == [0, 1, 2, 3, 4]


def test_lists_are_accepted() -> None:
    loader = DataLoader([[1.0], [2.0], [3.0]], [0, 1, 0], 2)

    batches = list(loader)

    np.testing.assert_array_equal(batches[0][0], [[1.0], [2.0]])
    np.testing.assert_array_equal(batches[1][1], [0])


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match=r"x has 5 samples but y has 4\. Pass one target"):
        DataLoader(np.zeros((5, 2)), np.zeros(4), 2)


@pytest.mark.parametrize("batch_size", [0, -1, -32])
def test_non_positive_batch_size_raises(batch_size: int) -> None:
    message = rf"batch_size must be a positive integer, got {batch_size}\."
    with pytest.raises(ValueError, match=message):
        DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size)


@pytest.mark.parametrize("batch_size", [2.0, 2.5, "32", True, None])
def test_non_integer_batch_size_raises(batch_size: object) -> None:
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size)  # type: ignore[arg-type]


def test_numpy_integer_batch_size_accepted() -> None:
    loader = DataLoader(np.zeros((5, 2)), np.zeros(5), np.int64(2))

    assert loader.batch_size == 2
    assert len(loader) == 3


def test_drop_last_without_batch_raises() -> None:
    with pytest.raises(ValueError, match=r"drop_last=True with batch_size=8 and only 5 samples"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), 8, drop_last=True)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((0, 2)), np.zeros(0), r"x is empty"),
        (np.float64(1.0), np.zeros(1), r"x must have a first dimension"),
        (np.zeros((2, 2)), np.float64(1.0), r"y must have a first dimension"),
    ],
)
def test_empty_or_scalar_data_raises(x: np.ndarray, y: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DataLoader(x, y, 2)


def test_invalid_rng_raises() -> None:
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator, an integer seed"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), 2, shuffle=True, rng="seed")  # type: ignore[arg-type]


def test_invalid_shuffle_flag_raises() -> None:
    with pytest.raises(TypeError, match=r"shuffle must be True or False, got 'yes'"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), 2, shuffle="yes")  # type: ignore[arg-type]
