"""Tests of the losses: reference values, gradients, input validation and PyTorch agreement."""

from __future__ import annotations

import math
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from finite_differences import assert_gradient_close, central_difference
from hypothesis import given
from hypothesis import strategies as st

from minigrad import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, Loss, MSELoss

Array = np.ndarray[Any, Any]

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
REDUCTIONS = st.sampled_from(["mean", "sum"])


def check_finite_differences(loss: Loss, prediction: Array, target: Array) -> None:
    """Compare ``backward`` with central differences of ``forward`` in the prediction."""
    loss.forward(prediction, target)
    analytic = loss.backward()
    numeric = central_difference(lambda: loss.forward(prediction, target), prediction)
    assert_gradient_close(analytic, numeric, f"{loss!r} prediction", rtol=1e-5, atol=1e-8)


def torch_loss_and_gradient(
    torch_loss: Any, prediction: Array, target: Array, target_dtype: Any = None
) -> tuple[float, Array]:
    """Return a torch loss and its gradient in the prediction, computed in float64."""
    torch = pytest.importorskip("torch")
    prediction_tensor = torch.tensor(prediction, dtype=torch.float64, requires_grad=True)
    target_tensor = torch.tensor(target, dtype=target_dtype or torch.float64)
    value = torch_loss(prediction_tensor, target_tensor)
    value.backward()
    return value.item(), prediction_tensor.grad.numpy()


# --- MSELoss ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reduction", "loss_value", "gradient"),
    [
        ("mean", 7.5, [[0.5, 1.0], [1.5, 2.0]]),
        ("sum", 30.0, [[2.0, 4.0], [6.0, 8.0]]),
        ("half_sum", 15.0, [[1.0, 2.0], [3.0, 4.0]]),
    ],
)
def test_mse_reference_values(reduction: Any, loss_value: float, gradient: list[Any]) -> None:
    loss = MSELoss(reduction)

    assert loss.forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))) == loss_value
    np.testing.assert_array_equal(loss.backward(), gradient)


@given(
    hnp.arrays(np.float64, SHAPES, elements=st.floats(-3, 3)),
    st.sampled_from(["mean", "sum", "half_sum"]),
)
def test_mse_finite_differences(prediction: Array, reduction: Any) -> None:
    target = np.random.default_rng(0).normal(size=prediction.shape)
    check_finite_differences(MSELoss(reduction), prediction, target)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_matches_torch(reduction: Any) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    prediction, target = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected_loss, expected_gradient = torch_loss_and_gradient(
        torch.nn.MSELoss(reduction=reduction), prediction, target
    )
    loss = MSELoss(reduction)

    assert loss.forward(prediction, target) == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), expected_gradient, rtol=1e-13)


# --- L1Loss ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reduction", "loss_value", "gradient"),
    [("mean", 1.0, [1 / 3, -1 / 3, 0.0]), ("sum", 3.0, [1.0, -1.0, 0.0])],
)
def test_l1_reference_values(reduction: Any, loss_value: float, gradient: list[float]) -> None:
    loss = L1Loss(reduction)

    assert loss.forward(np.array([1.0, -2.0, 3.0]), np.array([0.0, 0.0, 3.0])) == loss_value
    np.testing.assert_allclose(loss.backward(), gradient, rtol=1e-15)


@given(hnp.arrays(np.float64, SHAPES, elements=st.floats(-3, 3)), REDUCTIONS)
def test_l1_finite_differences(prediction: Array, reduction: Any) -> None:
    # Offsets of at least 0.1 keep every element away from the kink at prediction == target.
    rng = np.random.default_rng(2)
    offset = rng.uniform(0.1, 1.0, size=prediction.shape) * rng.choice([-1, 1], prediction.shape)
    check_finite_differences(L1Loss(reduction), prediction, prediction + offset)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_l1_matches_torch(reduction: Any) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    prediction, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    target[0, 0] = prediction[0, 0]  # a tie, where both use sign(0) = 0
    expected_loss, expected_gradient = torch_loss_and_gradient(
        torch.nn.L1Loss(reduction=reduction), prediction, target
    )
    loss = L1Loss(reduction)

    assert loss.forward(prediction, target) == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), expected_gradient, rtol=1e-13)


# --- BCELoss ---------------------------------------------------------------------------------


def test_bce_confident_wrong_prediction() -> None:
    # -log(1 - (1 - 1e-7)) in float64, where 1 - (1 - 1e-7) rounds to 9.99999993922529e-08.
    loss = BCELoss()
    value = loss.forward(np.array([[1.0]]), np.array([[0.0]]))
    gradient = loss.backward()

    assert value == 16.118095651484676
    assert np.all(np.isfinite(gradient))
    assert gradient[0, 0] == pytest.approx(1e7, rel=1e-6)


def test_bce_confident_correct_prediction() -> None:
    loss = BCELoss()
    value = loss.forward(np.array([0.0, 1.0]), np.array([0.0, 1.0]))

    assert value == pytest.approx(-math.log(1 - 1e-7), rel=1e-9)
    assert np.all(np.isfinite(loss.backward()))


@pytest.mark.parametrize(
    ("reduction", "expected"),
    [
        ("mean", -(math.log(0.8) + math.log(0.75)) / 2),
        ("sum", -(math.log(0.8) + math.log(0.75))),
    ],
)
def test_bce_reference_values(reduction: Any, expected: float) -> None:
    loss = BCELoss(reduction)
    value = loss.forward(np.array([0.8, 0.25]), np.array([1.0, 0.0]))
    divisor = 2.0 if reduction == "mean" else 1.0

    assert value == pytest.approx(expected, rel=1e-14)
    # (p - y) / (p * (1 - p)) is -1/p for y = 1 and 1/(1 - p) for y = 0.
    np.testing.assert_allclose(loss.backward(), [-1.25 / divisor, 1 / 0.75 / divisor], rtol=1e-14)


def test_bce_prediction_outside_rejected() -> None:
    loss = BCELoss()

    with pytest.raises(
        ValueError, match=r"prediction must lie in \[0, 1\], got 2 of 4 entries outside"
    ):
        loss.forward(np.array([0.5, 1.2, -0.1, 0.3]), np.zeros(4))


def test_bce_prediction_nan_rejected() -> None:
    with pytest.raises(ValueError, match=r"1 of 2 entries outside \(or NaN\).*BCEWithLogitsLoss"):
        BCELoss().forward(np.array([0.5, np.nan]), np.zeros(2))


def test_bce_target_outside_rejected() -> None:
    with pytest.raises(ValueError, match=r"target must lie in \[0, 1\], got 1 of 2 entries"):
        BCELoss().forward(np.array([0.5, 0.5]), np.array([1.0, 2.0]))


@given(hnp.arrays(np.float64, SHAPES, elements=st.floats(0.05, 0.95)), REDUCTIONS)
def test_bce_finite_differences(prediction: Array, reduction: Any) -> None:
    target = np.random.default_rng(4).uniform(size=prediction.shape)
    check_finite_differences(BCELoss(reduction), prediction, target)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_matches_torch(reduction: Any) -> None:
    # Only probabilities inside [1e-7, 1 - 1e-7]: PyTorch limits log at -100 instead of
    # clipping, so the two differ for probabilities at 0 or 1.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    prediction = rng.uniform(0.01, 0.99, size=(6, 2))
    target = rng.uniform(size=(6, 2))
    target[:3] = np.round(target[:3])
    expected_loss, expected_gradient = torch_loss_and_gradient(
        torch.nn.BCELoss(reduction=reduction), prediction, target
    )
    loss = BCELoss(reduction)

    assert loss.forward(prediction, target) == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), expected_gradient, rtol=1e-12)


# --- BCEWithLogitsLoss -----------------------------------------------------------------------


def test_bce_logits_extreme_values_exact() -> None:
    loss = BCEWithLogitsLoss(reduction="sum")
    value = loss.forward(np.array([1000.0, -1000.0, -1000.0, 800.0]), np.array([0, 1, 0, 1]))

    assert value == 2000.0
    np.testing.assert_array_equal(loss.backward(), [1.0, -1.0, 0.0, 0.0])


def test_bce_logits_reference_values() -> None:
    loss = BCEWithLogitsLoss()
    value = loss.forward(np.array([0.0, 2.0]), np.array([1.0, 0.0]))
    sigmoid_two = 1 / (1 + math.exp(-2.0))

    assert value == pytest.approx((math.log(2.0) + math.log(1 + math.exp(2.0))) / 2, rel=1e-15)
    np.testing.assert_allclose(loss.backward(), [-0.25, sigmoid_two / 2], rtol=1e-15)


def test_bce_logits_target_outside_rejected() -> None:
    with pytest.raises(ValueError, match=r"target must lie in \[0, 1\], got 1 of 3 entries"):
        BCEWithLogitsLoss().forward(np.zeros(3), np.array([0.0, -1.0, 1.0]))


@given(hnp.arrays(np.float64, SHAPES, elements=st.floats(-6, 6)), REDUCTIONS)
def test_bce_logits_finite_differences(prediction: Array, reduction: Any) -> None:
    target = np.random.default_rng(6).uniform(size=prediction.shape)
    check_finite_differences(BCEWithLogitsLoss(reduction), prediction, target)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_logits_matches_torch(reduction: Any) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(5, 3)) * 4
    logits[0] = [700.0, -700.0, 0.0]
    target = rng.uniform(size=(5, 3))
    expected_loss, expected_gradient = torch_loss_and_gradient(
        torch.nn.BCEWithLogitsLoss(reduction=reduction), logits, target
    )
    loss = BCEWithLogitsLoss(reduction)

    assert loss.forward(logits, target) == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), expected_gradient, rtol=1e-12, atol=1e-300)


# --- CrossEntropyLoss ------------------------------------------------------------------------


def test_cross_entropy_extreme_logits_exact() -> None:
    loss = CrossEntropyLoss()

    assert loss.forward(np.array([[10.0, 920.0, 30.0, -500.0, 40.0]]), np.array([3])) == 1420.0
    np.testing.assert_allclose(loss.backward(), [[0.0, 1.0, 0.0, -1.0, 0.0]], rtol=0, atol=1e-12)
    assert loss.forward(np.array([[-400.0, 400.0]]), np.array([0])) == 800.0


def test_cross_entropy_reference_values() -> None:
    loss = CrossEntropyLoss()
    logits = np.array([[0.0, 0.0], [0.0, math.log(3.0)]])
    value = loss.forward(logits, np.array([0, 1]))

    # Probabilities are [0.5, 0.5] and [0.25, 0.75].
    assert value == pytest.approx((math.log(2.0) - math.log(0.75)) / 2, rel=1e-15)
    np.testing.assert_allclose(
        loss.backward(), [[-0.25, 0.25], [0.125, -0.125]], rtol=1e-14, atol=1e-16
    )


def test_cross_entropy_sum_reduction() -> None:
    loss = CrossEntropyLoss(reduction="sum")

    assert loss.forward(np.zeros((3, 4)), np.array([0, 1, 2])) == pytest.approx(3 * math.log(4))
    np.testing.assert_allclose(loss.backward()[0], [-0.75, 0.25, 0.25, 0.25], rtol=1e-15)


def test_cross_entropy_float_targets_rejected() -> None:
    with pytest.raises(TypeError, match=r"integer class indices, got dtype float64.*astype"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_cross_entropy_bool_targets_rejected() -> None:
    with pytest.raises(TypeError, match="integer class indices, got dtype bool"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([True, False]))


def test_cross_entropy_class_too_large() -> None:
    with pytest.raises(
        ValueError,
        match=r"class indices in 0 \.\. 2 for 3 classes .* got 2 invalid entries with values "
        r"3, 7, the first at position 1",
    ):
        CrossEntropyLoss().forward(np.zeros((4, 3)), np.array([0, 3, 7, 2]))


def test_cross_entropy_negative_class() -> None:
    with pytest.raises(ValueError, match=r"got 1 invalid entries with values -1, the first at"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([-1, 2]))


def test_cross_entropy_wrong_target_length() -> None:
    with pytest.raises(ValueError, match=r"target must have shape \(3,\).* got shape \(2,\)"):
        CrossEntropyLoss().forward(np.zeros((3, 4)), np.array([0, 1]))


def test_cross_entropy_one_hot_hint() -> None:
    with pytest.raises(ValueError, match=r"target\.argmax\(axis=1\)"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.eye(3, dtype=np.int64)[[0, 2]])


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), (0, 3), (2, 0)])
def test_cross_entropy_logit_shape_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"logits of shape \(batch_size, num_classes\)"):
        CrossEntropyLoss().forward(np.zeros(shape), np.zeros(2, dtype=np.int64))


def test_cross_entropy_ignore_index() -> None:
    loss = CrossEntropyLoss(ignore_index=-1)
    logits = np.array([[0.0, 0.0], [5.0, -5.0], [0.0, math.log(3.0)]])
    value = loss.forward(logits, np.array([0, -1, 1]))
    gradient = loss.backward()

    assert value == pytest.approx((math.log(2.0) - math.log(0.75)) / 2, rel=1e-15)
    np.testing.assert_array_equal(gradient[1], [0.0, 0.0])
    np.testing.assert_allclose(gradient[[0, 2]], [[-0.25, 0.25], [0.125, -0.125]], rtol=1e-14)


def test_cross_entropy_all_ignored_mean() -> None:
    loss = CrossEntropyLoss()

    with pytest.raises(ValueError, match="every target equals ignore_index=-100"):
        loss.forward(np.zeros((2, 3)), np.array([-100, -100]))


def test_cross_entropy_all_ignored_sum() -> None:
    loss = CrossEntropyLoss(reduction="sum")

    assert loss.forward(np.ones((2, 3)), np.array([-100, -100])) == 0.0
    np.testing.assert_array_equal(loss.backward(), np.zeros((2, 3)))


def test_cross_entropy_label_smoothing_reference() -> None:
    # Two classes with equal logits: every log-probability is -log(2), whatever the smoothing.
    loss = CrossEntropyLoss(label_smoothing=0.2)

    assert loss.forward(np.zeros((1, 2)), np.array([1])) == pytest.approx(math.log(2.0))
    # softmax - ((1 - 0.2) * onehot + 0.2 / 2) = [0.5 - 0.1, 0.5 - 0.9]
    np.testing.assert_allclose(loss.backward(), [[0.4, -0.4]], rtol=1e-15)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5, float("nan")])
def test_cross_entropy_invalid_smoothing(smoothing: object) -> None:
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\]"):
        CrossEntropyLoss(label_smoothing=smoothing)  # type: ignore[arg-type]


@pytest.mark.parametrize("smoothing", ["0.1", True, None])
def test_cross_entropy_smoothing_wrong_type(smoothing: object) -> None:
    with pytest.raises(TypeError, match=r"label_smoothing must be a real number"):
        CrossEntropyLoss(label_smoothing=smoothing)  # type: ignore[arg-type]


@pytest.mark.parametrize("ignore_index", [1.0, None, False])
def test_cross_entropy_invalid_ignore_index(ignore_index: object) -> None:
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        CrossEntropyLoss(ignore_index=ignore_index)  # type: ignore[arg-type]


def test_cross_entropy_repr() -> None:
    assert repr(CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')"
    assert (
        repr(CrossEntropyLoss("sum", ignore_index=0, label_smoothing=0.1))
        == "CrossEntropyLoss(reduction='sum', ignore_index=0, label_smoothing=0.1)"
    )


@st.composite
def logits_and_targets(draw: st.DrawFn) -> tuple[Array, Array]:
    batch_size = draw(st.integers(1, 4))
    class_count = draw(st.integers(1, 5))
    logits = draw(hnp.arrays(np.float64, (batch_size, class_count), elements=st.floats(-5, 5)))
    targets = draw(hnp.arrays(np.int64, batch_size, elements=st.integers(0, class_count - 1)))
    return logits, targets


@given(logits_and_targets(), REDUCTIONS, st.sampled_from([0.0, 0.3]))
def test_cross_entropy_finite_differences(
    data: tuple[Array, Array], reduction: Any, smoothing: float
) -> None:
    logits, targets = data
    loss = CrossEntropyLoss(reduction, label_smoothing=smoothing)
    check_finite_differences(loss, logits, targets)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_matches_torch(reduction: Any, smoothing: float) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(6, 4)) * 3
    logits[0] = [10.0, 920.0, 30.0, -500.0]
    targets = np.array([3, 0, 1, 5, 2, 3])  # 5 is ignore_index
    torch_loss = torch.nn.CrossEntropyLoss(
        reduction=reduction, ignore_index=5, label_smoothing=smoothing
    )
    expected_loss, expected_gradient = torch_loss_and_gradient(
        torch_loss, logits, targets, target_dtype=torch.int64
    )
    loss = CrossEntropyLoss(reduction, ignore_index=5, label_smoothing=smoothing)

    assert loss.forward(logits, targets) == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), expected_gradient, rtol=1e-12, atol=1e-15)


def test_cross_entropy_float32_logits() -> None:
    loss = CrossEntropyLoss()
    loss.forward(np.zeros((2, 3), dtype=np.float32), np.array([0, 1]))

    assert loss.backward().dtype == np.float32


# --- Shared contract -------------------------------------------------------------------------

ELEMENTWISE_LOSSES = [MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss]
ALL_LOSSES = [*ELEMENTWISE_LOSSES, CrossEntropyLoss]


def valid_inputs(loss_class: type[Loss]) -> tuple[Array, Array]:
    if loss_class is CrossEntropyLoss:
        return np.array([[0.2, 0.3, 0.5], [1.0, 2.0, 0.0]]), np.array([2, 0])
    return np.array([[0.2, 0.3], [0.5, 0.9]]), np.array([[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("loss_class", ALL_LOSSES)
def test_reduction_none_rejected(loss_class: type[Any]) -> None:
    with pytest.raises(ValueError, match=r"reduction='none' is not supported.*single float"):
        loss_class(reduction="none")


@pytest.mark.parametrize("loss_class", ALL_LOSSES)
def test_unknown_reduction_rejected(loss_class: type[Any]) -> None:
    with pytest.raises(ValueError, match=r"reduction must be one of .*'mean', 'sum'.*got 'avg'"):
        loss_class(reduction="avg")


def test_half_sum_only_for_mse() -> None:
    with pytest.raises(ValueError, match="reduction must be one of"):
        L1Loss(reduction="half_sum")  # type: ignore[arg-type]


@pytest.mark.parametrize("loss_class", ALL_LOSSES)
def test_backward_without_forward(loss_class: type[Loss]) -> None:
    with pytest.raises(RuntimeError, match="backward was called without a preceding forward"):
        loss_class().backward()


@pytest.mark.parametrize("loss_class", ALL_LOSSES)
def test_second_backward_raises(loss_class: type[Loss]) -> None:
    loss = loss_class()
    loss(*valid_inputs(loss_class))
    loss.backward()

    with pytest.raises(RuntimeError, match="without a preceding forward"):
        loss.backward()


@pytest.mark.parametrize("loss_class", ELEMENTWISE_LOSSES)
def test_shape_mismatch_rejected(loss_class: type[Loss]) -> None:
    with pytest.raises(ValueError, match=r"prediction has shape \(4, 1\) but target has shape"):
        loss_class().forward(np.full((4, 1), 0.5), np.zeros(4))


@pytest.mark.parametrize("loss_class", ELEMENTWISE_LOSSES)
def test_empty_batch_rejected(loss_class: type[Loss]) -> None:
    with pytest.raises(ValueError, match="the batch is empty"):
        loss_class().forward(np.zeros((0, 2)), np.zeros((0, 2)))


@pytest.mark.parametrize("loss_class", ALL_LOSSES)
def test_failed_forward_keeps_cache(loss_class: type[Loss]) -> None:
    prediction, target = valid_inputs(loss_class)
    loss = loss_class()
    loss.forward(prediction, target)
    expected_gradient = loss_class()
    expected_gradient.forward(prediction, target)

    with pytest.raises((ValueError, TypeError)):
        loss.forward(prediction, np.zeros((7, 7)))
    np.testing.assert_array_equal(loss.backward(), expected_gradient.backward())


@pytest.mark.parametrize("loss_class", ALL_LOSSES)
def test_caller_arrays_unchanged(loss_class: type[Loss]) -> None:
    prediction, target = valid_inputs(loss_class)
    prediction_copy, target_copy = prediction.copy(), target.copy()
    loss = loss_class()
    loss.forward(prediction, target)
    loss.backward()

    np.testing.assert_array_equal(prediction, prediction_copy)
    np.testing.assert_array_equal(target, target_copy)


@pytest.mark.parametrize("loss_class", ALL_LOSSES)
def test_forward_returns_python_float(loss_class: type[Loss]) -> None:
    assert type(loss_class()(*valid_inputs(loss_class))) is float
