"""Tests of Dropout and of the training mode that every module carries."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from finite_differences import assert_gradient_close, central_difference
from hypothesis import given
from hypothesis import strategies as st

from minigrad import Dropout, Linear, Module, ReLU, Sequential

Array = np.ndarray[Any, Any]


# --- Dropout in training mode ----------------------------------------------------------------


def test_dropout_reference_mask() -> None:
    # Generator(seed 0).random(6) is [0.637, 0.270, 0.041, 0.017, 0.813, 0.913]; with p = 0.5
    # the entries >= 0.5 are kept and scaled by 1 / (1 - 0.5) = 2.
    layer = Dropout(0.5, rng=0)
    output = layer.forward(np.arange(1.0, 7.0))
    grad_input = layer.backward(np.full(6, 10.0))

    np.testing.assert_array_equal(output, [2.0, 0.0, 0.0, 0.0, 10.0, 12.0])
    np.testing.assert_array_equal(grad_input, [20.0, 0.0, 0.0, 0.0, 20.0, 20.0])


def test_dropout_inverted_scaling() -> None:
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=(200, 100))
    output = Dropout(0.3, rng=2).forward(x)
    kept = output != 0

    np.testing.assert_allclose(output[kept], x[kept] / 0.7, rtol=1e-15)
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    assert output.mean() == pytest.approx(x.mean(), rel=0.01)


def test_dropout_new_mask_each_forward() -> None:
    layer = Dropout(0.5, rng=3)
    first = layer.forward(np.ones(50))
    second = layer.forward(np.ones(50))

    assert not np.array_equal(first, second)


def test_dropout_same_seed_same_mask() -> None:
    first = Dropout(0.5, rng=4).forward(np.ones(50))
    second = Dropout(0.5, rng=np.random.default_rng(4)).forward(np.ones(50))

    np.testing.assert_array_equal(first, second)


def test_dropout_p_zero_draws_nothing() -> None:
    generator = np.random.default_rng(5)
    state = generator.bit_generator.state
    layer = Dropout(0.0, rng=generator)
    x = np.array([1.0, -2.0, 3.0])

    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones(3)), np.ones(3))
    assert generator.bit_generator.state == state


def test_dropout_p_one_zeros() -> None:
    layer = Dropout(1.0, rng=6)
    output = layer.forward(np.array([1.0, -2.0, 3.0]))
    grad_input = layer.backward(np.ones(3))

    np.testing.assert_array_equal(output, np.zeros(3))
    np.testing.assert_array_equal(grad_input, np.zeros(3))


def test_dropout_float32_preserved() -> None:
    layer = Dropout(0.5, rng=7)
    output = layer.forward(np.ones(8, dtype=np.float32))
    grad_input = layer.backward(np.ones(8))

    assert output.dtype == np.float32
    assert grad_input.dtype == np.float32
    np.testing.assert_array_equal(output, Dropout(0.5, rng=7).forward(np.ones(8)))


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
        elements=st.floats(-3, 3),
    ),
    st.sampled_from([0.0, 0.2, 0.5, 0.9]),
)
def test_dropout_finite_differences(x: Array, p: float) -> None:
    # A new layer with the same seed for every evaluation reuses one mask.
    upstream = np.random.default_rng(8).normal(size=x.shape)
    layer = Dropout(p, rng=9)
    layer.forward(x)
    analytic = layer.backward(upstream)

    numeric = central_difference(
        lambda: float(np.sum(Dropout(p, rng=9).forward(x) * upstream)), x
    )
    assert_gradient_close(analytic, numeric, "Dropout input")


def test_dropout_scaling_matches_torch() -> None:
    # Torch draws other masks, so compare the rule: kept entries are x / (1 - p), others 0,
    # and evaluation mode returns x.
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = np.random.default_rng(10).uniform(1.0, 2.0, size=(50, 40))
    torch_dropout = torch.nn.Dropout(0.25)
    torch_output = torch_dropout(torch.tensor(x)).numpy()
    output = Dropout(0.25, rng=11).forward(x)

    for result in (output, torch_output):
        kept = result != 0
        np.testing.assert_allclose(result[kept], x[kept] / 0.75, rtol=1e-15)
        assert kept.mean() == pytest.approx(0.75, abs=0.03)

    torch_dropout.eval()
    np.testing.assert_array_equal(torch_dropout(torch.tensor(x)).numpy(), Dropout(0.25).eval()(x))


def test_dropout_p_one_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([1.0, -2.0, 3.0])

    expected = torch.nn.Dropout(1.0)(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(Dropout(1.0, rng=0).forward(x), expected)


# --- Dropout in evaluation mode --------------------------------------------------------------


def test_dropout_eval_identity() -> None:
    layer = Dropout(0.5, rng=12).eval()
    x = np.array([[1.0, 2.0, 3.0]])
    grad = np.array([[4.0, 5.0, 6.0]])

    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(grad), grad)


def test_dropout_eval_draws_nothing() -> None:
    generator = np.random.default_rng(13)
    state = generator.bit_generator.state

    Dropout(0.5, rng=generator).eval().forward(np.ones(10))

    assert generator.bit_generator.state == state


def test_backward_follows_forward_mode() -> None:
    # The mode at forward time decides the backward, even if the mode changes in between.
    layer = Dropout(0.5, rng=0)
    layer.forward(np.arange(1.0, 7.0))
    layer.eval()
    np.testing.assert_array_equal(layer.backward(np.ones(6)), [2.0, 0.0, 0.0, 0.0, 2.0, 2.0])

    layer.forward(np.ones(6))
    layer.train()
    np.testing.assert_array_equal(layer.backward(np.ones(6)), np.ones(6))


# --- Dropout errors --------------------------------------------------------------------------


@pytest.mark.parametrize("p", [-0.1, 1.01, float("nan"), float("inf")])
def test_dropout_invalid_p(p: object) -> None:
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\]"):
        Dropout(p)  # type: ignore[arg-type]


@pytest.mark.parametrize("p", ["0.5", None, True])
def test_dropout_p_wrong_type(p: object) -> None:
    with pytest.raises(TypeError, match=r"p must be a real number"):
        Dropout(p)  # type: ignore[arg-type]


@pytest.mark.parametrize("rng", [1.5, "0", np.random.RandomState(0)])
def test_dropout_invalid_rng(rng: object) -> None:
    with pytest.raises(TypeError, match=r"Dropout: rng must be a numpy\.random\.Generator"):
        Dropout(0.5, rng=rng)  # type: ignore[arg-type]


def test_dropout_backward_without_forward() -> None:
    with pytest.raises(RuntimeError, match=r"Dropout\(p=0.5\): backward was called without"):
        Dropout(0.5, rng=0).backward(np.ones(3))


def test_dropout_second_backward_raises() -> None:
    layer = Dropout(0.5, rng=0)
    layer.forward(np.ones(3))
    layer.backward(np.ones(3))

    with pytest.raises(RuntimeError, match="without a preceding forward"):
        layer.backward(np.ones(3))


def test_dropout_backward_shape_mismatch() -> None:
    layer = Dropout(0.5, rng=0)
    layer.forward(np.ones((2, 3)))

    with pytest.raises(ValueError, match=r"grad_output has shape \(3,\)"):
        layer.backward(np.ones(3))


def test_dropout_caller_input_unchanged() -> None:
    x = np.ones((4, 4))

    Dropout(0.5, rng=0).forward(x)

    np.testing.assert_array_equal(x, np.ones((4, 4)))


def test_dropout_repr() -> None:
    assert repr(Dropout(0.25, rng=0)) == "Dropout(p=0.25)"


# --- Training mode on modules ----------------------------------------------------------------


class Block(Module):
    """A module without ``super().__init__()`` whose submodules are plain attributes."""

    def __init__(self) -> None:
        self.linear = Linear(2, 2, rng=0)
        self.dropout = Dropout(0.5, rng=0)


def all_modules(model: Module) -> list[Module]:
    modules = [model]
    for _, child in model.named_children():
        modules.extend(all_modules(child))
    return modules


def test_modules_start_in_training() -> None:
    model = Sequential(Linear(2, 3, rng=0), ReLU(), Block())

    assert all(module.training for module in all_modules(model))
    assert len(all_modules(model)) == 6


def test_eval_reaches_nested_modules() -> None:
    model = Sequential(Linear(2, 3, rng=0), Sequential(ReLU(), Block()))

    model.eval()

    assert not any(module.training for module in all_modules(model))


def test_train_restores_training() -> None:
    model = Sequential(Block(), Sequential(Dropout(0.1, rng=0)))

    model.eval()
    model.train()

    assert all(module.training for module in all_modules(model))


def test_train_false_same_as_eval() -> None:
    model = Sequential(Block())

    model.train(False)

    assert not any(module.training for module in all_modules(model))


def test_train_eval_return_module() -> None:
    model = Sequential(Block())

    assert model.eval() is model
    assert model.train() is model


def test_eval_on_child_only() -> None:
    block = Block()
    model = Sequential(Linear(2, 2, rng=0), block)

    block.eval()

    assert model.training
    assert not block.dropout.training


@pytest.mark.parametrize("mode", [1, "False", None])
def test_train_invalid_mode(mode: object) -> None:
    model = Sequential(Block())

    with pytest.raises(TypeError, match=r"Sequential\.train: mode must be True or False"):
        model.train(mode)  # type: ignore[arg-type]
    assert all(module.training for module in all_modules(model))


def test_training_not_a_parameter() -> None:
    block = Block().eval()

    assert [name for name, _ in block.named_parameters()] == ["linear.weight", "linear.bias"]


def test_eval_model_deterministic() -> None:
    model = Sequential(Linear(4, 4, rng=0), Dropout(0.5, rng=1), Linear(4, 1, rng=2)).eval()
    x = np.random.default_rng(3).normal(size=(5, 4))

    np.testing.assert_array_equal(model(x), model(x))
