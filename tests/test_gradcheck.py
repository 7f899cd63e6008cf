"""Tests of check_layer and check_loss: faulty layers are caught, correct layers pass."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad
from minigrad import (
    GradientCheckError,
    LayerContractError,
    Linear,
    Loss,
    Module,
    MSELoss,
    Parameter,
    Sequential,
    Sigmoid,
    check_layer,
    check_loss,
)
from minigrad._array import Array
from minigrad.gradcheck import CONTRACT_RULES
from minigrad.module import check_grad_output_shape, missing_forward_error

# --- Faulty layers. Each differs from a correct layer in exactly one place. ---------------


class Affine(Module):
    """A correct y = x @ W.T + b, the base of the faulty variants below."""

    def __init__(self, in_features: int, out_features: int, seed: int = 0) -> None:
        generator = np.random.default_rng(seed)
        self.weight = Parameter(generator.normal(size=(out_features, in_features)))
        self.bias = Parameter(generator.normal(size=out_features))
        self._input: Array | None = None

    def forward(self, x: Array) -> Array:
        self._input = np.array(x, dtype=np.float64)
        output: Array = self._input @ self.weight.data.T + self.bias.data
        return output

    def backward(self, grad_output: Array) -> Array:
        if self._input is None:
            raise missing_forward_error(self)
        check_grad_output_shape(self, grad_output, (len(self._input), len(self.bias.data)))
        self.accumulate(self.weight, grad_output.T @ self._input)
        self.accumulate(self.bias, self.bias_gradient(grad_output))
        self._input = None
        grad_input: Array = grad_output @ self.weight.data
        return grad_input

    def bias_gradient(self, grad_output: Array) -> Array:
        gradient: Array = grad_output.sum(axis=0)
        return gradient

    def accumulate(self, parameter: Parameter, gradient: Array) -> None:
        parameter.grad += gradient


class BiasSummedOverFeatures(Affine):
    def bias_gradient(self, grad_output: Array) -> Array:
        gradient: Array = grad_output.sum(axis=1)
        return gradient


class GradientReplaced(Affine):
    def accumulate(self, parameter: Parameter, gradient: Array) -> None:
        parameter.grad[...] = gradient


class StaleCache(Affine):
    """Caches x only when the cache is empty, so a second forward keeps the first x."""

    def forward(self, x: Array) -> Array:
        if self._input is None:
            self._input = np.array(x, dtype=np.float64)
        output: Array = np.asarray(x) @ self.weight.data.T + self.bias.data
        return output


class CacheKept(Affine):
    """Never releases the cache, so backward without forward succeeds."""

    def backward(self, grad_output: Array) -> Array:
        cache = self._input
        grad_input = super().backward(grad_output)
        self._input = cache
        return grad_input


class WeightUpdatedInForward(Affine):
    def forward(self, x: Array) -> Array:
        output = super().forward(x)
        self.weight.data *= 0.999
        return output


class GradientScaledByCalls(Affine):
    """Scales every gradient by the number of backward calls so far."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.calls = 0

    def backward(self, grad_output: Array) -> Array:
        self.calls += 1
        return super().backward(grad_output * self.calls)


class CacheReleasedBeforeShapeCheck(Affine):
    def backward(self, grad_output: Array) -> Array:
        cache = self._input
        self._input = None
        if cache is None:
            raise missing_forward_error(self)
        check_grad_output_shape(self, grad_output, (len(cache), len(self.bias.data)))
        self._input = cache
        return super().backward(grad_output)


class GradAddedBeforeShapeCheck(Affine):
    def backward(self, grad_output: Array) -> Array:
        self.bias.grad += 1.0
        return super().backward(grad_output)


class Float32Compute(Affine):
    def forward(self, x: Array) -> Array:
        return super().forward(x).astype(np.float32)


class Logistic(Module):
    """A correct sigmoid with a shape check, the base of the element-wise variants."""

    def __init__(self) -> None:
        self._output: Array | None = None

    def forward(self, x: Array) -> Array:
        self._output = 1.0 / (1.0 + np.exp(-np.asarray(x)))
        return self._output

    def backward(self, grad_output: Array) -> Array:
        if self._output is None:
            raise missing_forward_error(self)
        check_grad_output_shape(self, grad_output, self._output.shape)
        grad_input = grad_output * self.derivative(self._output)
        self._output = None
        return grad_input

    def derivative(self, output: Array) -> Array:
        return output * (1.0 - output)


class WrongDerivative(Logistic):
    """Uses s instead of s * (1 - s)."""

    def derivative(self, output: Array) -> Array:
        return output


class InputModifiedInPlace(Logistic):
    def forward(self, x: Array) -> Array:
        np.negative(x, out=x)
        np.exp(x, out=x)
        x += 1.0
        np.reciprocal(x, out=x)
        self._output = x.copy()
        return self._output


class GradOutputModifiedInPlace(Logistic):
    def backward(self, grad_output: Array) -> Array:
        if self._output is None:
            raise missing_forward_error(self)
        check_grad_output_shape(self, grad_output, self._output.shape)
        grad_output *= self._output * (1.0 - self._output)
        self._output = None
        return grad_output


class NoShapeCheck(Logistic):
    def backward(self, grad_output: Array) -> Array:
        if self._output is None:
            raise missing_forward_error(self)
        grad_input: Array = grad_output * self._output * (1.0 - self._output)
        self._output = None
        return grad_input


class GradientShapeWrong(Logistic):
    """Returns the gradient summed over the batch, so its shape lacks the batch axis."""

    def backward(self, grad_output: Array) -> Array:
        grad_input: Array = super().backward(grad_output).sum(axis=0)
        return grad_input


class BackwardReturnsList(Logistic):
    def backward(self, grad_output: Array) -> Array:
        grad_input: Array = super().backward(grad_output).tolist()
        return grad_input


class ForwardReturnsList(Logistic):
    def forward(self, x: Array) -> Array:
        output: Array = super().forward(x).tolist()
        return output


class ForwardReturnsIntegers(Logistic):
    def forward(self, x: Array) -> Array:
        return np.round(super().forward(x)).astype(np.int64)


class RandomMask(Logistic):
    """Multiplies by a fresh random mask on every forward, like dropout in training."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = np.random.default_rng(0)

    def forward(self, x: Array) -> Array:
        mask = self.generator.random(np.shape(x)) < 0.5
        return super().forward(np.asarray(x) * mask)


class BackwardTypeError(Logistic):
    def backward(self, grad_output: Array) -> Array:
        if self._output is None:
            raise TypeError("no cache")
        return super().backward(grad_output)


# --- Faulty losses. ----------------------------------------------------------------------


class SumOfSquares(Loss):
    """A correct loss sum((p - y)**2), the base of the faulty variants below."""

    def __init__(self) -> None:
        self._difference: Array | None = None

    def forward(self, prediction: Array, target: Array) -> float:
        self._difference = np.asarray(prediction, dtype=np.float64) - target
        return float(np.sum(self._difference**2))

    def backward(self) -> Array:
        if self._difference is None:
            raise RuntimeError("backward without forward")
        gradient = self.scale() * self._difference
        self._difference = None
        return gradient

    def scale(self) -> float:
        return 2.0


class SumOfSquaresMissingFactor(SumOfSquares):
    def scale(self) -> float:
        return 1.0


class SumOfSquaresKeepsCache(SumOfSquares):
    def backward(self) -> Array:
        cache = self._difference
        gradient = super().backward()
        self._difference = cache
        return gradient


class SumOfSquaresReturnsArray(SumOfSquares):
    def forward(self, prediction: Array, target: Array) -> float:
        super().forward(prediction, target)
        return self._difference**2  # type: ignore[return-value, operator]


class SumOfSquaresModifiesPrediction(SumOfSquares):
    def forward(self, prediction: Array, target: Array) -> float:
        prediction -= target
        self._difference = prediction.copy()
        return float(np.sum(self._difference**2))


class SumOfSquaresSummedGradient(SumOfSquares):
    def backward(self) -> Array:
        gradient: Array = super().backward().sum(axis=0)
        return gradient


# --- Helpers. ----------------------------------------------------------------------------


def batch(shape: tuple[int, ...], seed: int = 1) -> Array:
    return np.random.default_rng(seed).normal(size=shape)


def identity(x: Array) -> Array:
    return x


def rule_of(error: pytest.ExceptionInfo[LayerContractError]) -> str:
    return error.value.rule


# --- Common faults of a hand-written backward, each caught with a message naming it. -----


def test_wrong_derivative_names_input() -> None:
    x = batch((3, 4))
    with pytest.raises(GradientCheckError, match=r"gradient of input does not match") as error:
        check_layer(WrongDerivative(), x)

    assert error.value.rule == "gradient"
    assert error.value.tensor_name == "input"
    assert error.value.mismatched_tensors == ("input",)
    # The faulty layer returns G * s where the truth is G * s * (1 - s).
    s = 1.0 / (1.0 + np.exp(-x[error.value.index]))
    assert error.value.analytic == pytest.approx(error.value.numeric / (1.0 - s), rel=1e-6)
    assert error.value.relative_error == pytest.approx(s, rel=1e-6)


def test_wrong_derivative_message_fields() -> None:
    with pytest.raises(GradientCheckError) as error:
        check_layer(WrongDerivative(), batch((3, 4)))

    message = str(error.value)
    index = list(error.value.index)
    assert message.startswith("WrongDerivative(): gradient of input")
    assert f"Worst element input{index}" in message
    assert f"analytic {error.value.analytic:.10g}" in message
    assert f"numeric {error.value.numeric:.10g}" in message
    assert f"relative error {error.value.relative_error:.3g}" in message
    assert "backward returns" in message


def test_bias_wrong_axis_names_bias() -> None:
    # A batch of 3 for 3 outputs lets the wrongly summed bias gradient have the right shape.
    layer = BiasSummedOverFeatures(in_features=2, out_features=3)
    with pytest.raises(GradientCheckError, match=r"gradient of bias does not match") as error:
        check_layer(layer, batch((3, 2)))

    assert error.value.tensor_name == "bias"
    assert error.value.mismatched_tensors == ("bias",)
    assert "adds into bias.grad" in str(error.value)


def test_bias_wrong_axis_broadcast_error() -> None:
    layer = BiasSummedOverFeatures(in_features=2, out_features=3)
    with pytest.raises(LayerContractError, match=r"backward raised ValueError") as error:
        check_layer(layer, batch((4, 2)))

    assert rule_of(error) == "call-raised"
    assert "bias gradient summed over the wrong axis" in str(error.value)
    assert isinstance(error.value.__cause__, ValueError)


def test_input_modified_in_place() -> None:
    with pytest.raises(LayerContractError, match=r"forward\(x\) modified x in place") as error:
        check_layer(InputModifiedInPlace(), batch((2, 3)))

    assert rule_of(error) == "forward-keeps-input"


def test_stale_cache_caught() -> None:
    with pytest.raises(LayerContractError, match=r"backward used a stale cache") as error:
        check_layer(StaleCache(3, 2), batch((4, 3)))

    assert rule_of(error) == "backward-uses-last-forward"


def test_gradient_replaced_not_accumulated() -> None:
    with pytest.raises(
        LayerContractError, match=r"backward replaced weight\.grad instead of adding to it"
    ) as error:
        check_layer(GradientReplaced(3, 2), batch((4, 3)))

    assert rule_of(error) == "backward-accumulates"
    assert "weight.grad += gradient" in str(error.value)


def test_gradient_shape_wrong() -> None:
    with pytest.raises(
        LayerContractError, match=r"backward returned a gradient of shape \(3,\), but x has "
        r"shape \(4, 3\)"
    ) as error:
        check_layer(GradientShapeWrong(), batch((4, 3)))

    assert rule_of(error) == "backward-output"


# --- The other contract rules. ------------------------------------------------------------


def test_grad_output_modified_in_place() -> None:
    with pytest.raises(
        LayerContractError, match=r"backward\(grad_output\) modified grad_output in place"
    ) as error:
        check_layer(GradOutputModifiedInPlace(), batch((2, 3)))

    assert rule_of(error) == "backward-keeps-grad-output"


def test_cache_kept_after_backward() -> None:
    with pytest.raises(
        LayerContractError, match=r"second backward after one forward returned normally"
    ) as error:
        check_layer(CacheKept(3, 2), batch((4, 3)))

    assert rule_of(error) == "backward-requires-forward"


def test_backward_without_forward_type() -> None:
    with pytest.raises(
        LayerContractError, match=r"raised TypeError \(no cache\), expected RuntimeError"
    ) as error:
        check_layer(BackwardTypeError(), batch((2, 3)))

    assert rule_of(error) == "backward-requires-forward"


def test_missing_shape_check() -> None:
    with pytest.raises(
        LayerContractError, match=r"backward accepted a grad_output of shape \(1, 2, 3\)"
    ) as error:
        check_layer(NoShapeCheck(), batch((2, 3)))

    assert rule_of(error) == "backward-checks-shape"


def test_cache_released_by_failed_call() -> None:
    with pytest.raises(
        LayerContractError, match=r"backward with the right shape raised RuntimeError"
    ) as error:
        check_layer(CacheReleasedBeforeShapeCheck(3, 2), batch((4, 3)))

    assert rule_of(error) == "backward-checks-shape"


def test_grad_changed_by_failed_call() -> None:
    # The first failed call in the sequence is the backward without a forward.
    with pytest.raises(
        LayerContractError, match=r"the backward without forward changed bias\.grad"
    ) as error:
        check_layer(GradAddedBeforeShapeCheck(3, 2), batch((4, 3)))

    assert rule_of(error) == "backward-requires-forward"


def test_parameter_changed_by_forward() -> None:
    with pytest.raises(
        LayerContractError, match=r"forward\(x\) modified weight\.data in place"
    ) as error:
        check_layer(WeightUpdatedInForward(3, 2), batch((4, 3)))

    assert rule_of(error) == "keeps-parameters"


def test_random_forward_caught() -> None:
    with pytest.raises(
        LayerContractError, match=r"two forward calls on the same x returned different"
    ) as error:
        check_layer(RandomMask(), batch((4, 5)))

    assert rule_of(error) == "forward-deterministic"
    assert "Dropout" in str(error.value)


def test_gradient_changing_between_calls() -> None:
    with pytest.raises(
        LayerContractError, match=r"added a different gradient to weight\.grad"
    ) as error:
        check_layer(GradientScaledByCalls(3, 2), batch((4, 3)))

    assert rule_of(error) == "backward-repeatable"


def test_forward_returns_list() -> None:
    with pytest.raises(
        LayerContractError, match=r"forward returned list, expected a numpy ndarray"
    ) as error:
        check_layer(ForwardReturnsList(), batch((2, 3)))

    assert rule_of(error) == "forward-output"


def test_forward_returns_integers() -> None:
    with pytest.raises(
        LayerContractError, match=r"forward returned an array of dtype int64"
    ) as error:
        check_layer(ForwardReturnsIntegers(), batch((2, 3)))

    assert rule_of(error) == "forward-output"


def test_backward_returns_list() -> None:
    with pytest.raises(
        LayerContractError, match=r"backward returned list, expected a numpy ndarray"
    ) as error:
        check_layer(BackwardReturnsList(), batch((2, 3)))

    assert rule_of(error) == "backward-output"


def test_empty_sequential_fails_contract() -> None:
    # An empty Sequential passes gradients through, so backward never raises.
    with pytest.raises(LayerContractError) as error:
        check_layer(Sequential(), batch((2, 3)))

    assert rule_of(error) == "backward-requires-forward"


def test_contract_message_format() -> None:
    with pytest.raises(LayerContractError) as error:
        check_layer(CacheKept(3, 2), batch((4, 3)))

    assert str(error.value).startswith("CacheKept(): ")
    assert str(error.value).endswith("[rule backward-requires-forward]")
    assert error.value.owner == "CacheKept()"


def test_contract_errors_are_assertions() -> None:
    assert issubclass(LayerContractError, AssertionError)
    assert issubclass(GradientCheckError, LayerContractError)


# --- Losses. ------------------------------------------------------------------------------


def test_loss_missing_factor_caught() -> None:
    prediction, target = batch((3, 2), seed=1), batch((3, 2), seed=2)
    with pytest.raises(GradientCheckError, match=r"gradient of prediction does not") as error:
        check_loss(SumOfSquaresMissingFactor(), prediction, target)

    assert error.value.tensor_name == "prediction"
    assert error.value.analytic == pytest.approx(error.value.numeric / 2, rel=1e-6)
    assert error.value.relative_error == pytest.approx(0.5, rel=1e-6)


def test_loss_cache_kept() -> None:
    with pytest.raises(LayerContractError, match=r"returned normally") as error:
        check_loss(SumOfSquaresKeepsCache(), batch((3, 2)), batch((3, 2), seed=2))

    assert rule_of(error) == "backward-requires-forward"


def test_loss_forward_returns_array() -> None:
    with pytest.raises(LayerContractError, match=r"forward returned ndarray") as error:
        check_loss(SumOfSquaresReturnsArray(), batch((3, 2)), batch((3, 2), seed=2))

    assert rule_of(error) == "forward-output"


def test_loss_modifies_prediction() -> None:
    with pytest.raises(
        LayerContractError, match=r"modified prediction in place"
    ) as error:
        check_loss(SumOfSquaresModifiesPrediction(), batch((3, 2)), batch((3, 2), seed=2))

    assert rule_of(error) == "forward-keeps-input"


def test_loss_gradient_shape_wrong() -> None:
    with pytest.raises(
        LayerContractError, match=r"gradient of shape \(2,\), but the prediction has shape"
    ) as error:
        check_loss(SumOfSquaresSummedGradient(), batch((3, 2)), batch((3, 2), seed=2))

    assert rule_of(error) == "backward-output"


def test_loss_integer_target_kept() -> None:
    target = np.array([[1, 0], [0, 1], [2, 3]])
    report = check_loss(SumOfSquares(), batch((3, 2)), target)

    assert report.tensors[0].name == "prediction"
    assert target.tolist() == [[1, 0], [0, 1], [2, 3]]


# --- Built-in layers and losses pass on random shapes. -------------------------------------

float_dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def inputs(draw: st.DrawFn, shape: tuple[int, ...]) -> Array:
    dtype = draw(float_dtypes)
    elements = st.floats(-4, 4, width=32)
    array: Array = draw(hnp.arrays(dtype, shape, elements=elements))
    return array


@given(
    data=st.data(),
    batch_size=st.integers(1, 4),
    in_features=st.integers(1, 4),
    out_features=st.integers(1, 4),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_passes(
    data: st.DataObject,
    batch_size: int,
    in_features: int,
    out_features: int,
    bias: bool,
    seed: int,
) -> None:
    layer = Linear(in_features, out_features, bias=bias, rng=seed)
    x = data.draw(inputs((batch_size, in_features)))

    report = check_layer(layer, x)

    names = [check.name for check in report.tensors]
    assert names == (["input", "weight", "bias"] if bias else ["input", "weight"])
    assert all(check.passed for check in report.tensors)
    assert report.input_dtype == x.dtype


@given(data=st.data(), leading=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_linear_leading_dimensions_pass(data: st.DataObject, leading: int, seed: int) -> None:
    layer = Linear(3, 2, rng=seed)
    x = data.draw(inputs((leading, 2, 3)))

    report = check_layer(layer, x)

    assert report.input_shape == (leading, 2, 3)
    assert all(check.passed for check in report.tensors)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_sigmoid_passes(data: st.DataObject, shape: tuple[int, ...]) -> None:
    x = data.draw(inputs(shape))

    report = check_layer(Sigmoid(), x)

    assert [check.name for check in report.tensors] == ["input"]
    assert report.tensors[0].passed


@given(
    data=st.data(),
    batch_size=st.integers(1, 3),
    hidden=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_sequential_passes(data: st.DataObject, batch_size: int, hidden: int, seed: int) -> None:
    generator = np.random.default_rng(seed)
    model = Sequential(
        Linear(3, hidden, rng=generator), Sigmoid(), Linear(hidden, 2, rng=generator)
    )
    x = data.draw(inputs((batch_size, 3)))

    report = check_layer(model, x)

    names = [check.name for check in report.tensors]
    assert names == ["input", "0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(check.passed for check in report.tensors)


@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
    reduction=st.sampled_from(["mean", "sum", "half_sum"]),
)
def test_mse_loss_passes(data: st.DataObject, shape: tuple[int, ...], reduction: str) -> None:
    prediction = data.draw(inputs(shape))
    target = data.draw(inputs(shape))

    report = check_loss(MSELoss(reduction), prediction, target)  # type: ignore[arg-type]

    assert report.tensors[0].passed
    assert report.tensors[0].shape == shape


def test_batch_of_one_passes() -> None:
    model = Sequential(Linear(4, 3, rng=0), Sigmoid(), Linear(3, 1, rng=1), Sigmoid())

    report = check_layer(model, np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32))

    assert report.input_shape == (1, 4)
    assert report.input_dtype == np.float32
    assert all(check.passed for check in report.tensors)


def test_large_loss_passes() -> None:
    # A summed loss of about 1e5 has a rounding error above atol, which the estimate covers.
    generator = np.random.default_rng(3)
    prediction = generator.normal(scale=10.0, size=(32, 32))
    target = generator.normal(scale=10.0, size=(32, 32))

    report = check_loss(MSELoss("sum"), prediction, target)

    assert report.tensors[0].passed


# --- The report. --------------------------------------------------------------------------


def test_report_text_lists_tensors() -> None:
    layer = Linear(3, 2, rng=0)

    text = str(check_layer(layer, batch((4, 3))))

    lines = text.splitlines()
    assert lines[0] == "Gradient check passed: Linear(in_features=3, out_features=2, bias=True)"
    assert lines[1] == "  input shape (4, 3), given as float64, checked in float64"
    assert lines[2] == "  central differences with step 1e-06 * max(1, |value|)"
    assert lines[3] == (
        "  an element passes if |analytic - numeric| <= 1e-07 + 1e-05 * |numeric| + rounding "
        "estimate"
    )
    assert re.match(r"  tensor +shape +max abs error +max error / tolerance$", lines[4])
    assert re.match(r"  input +\(4, 3\) +\d\.\d\de-\d\d +\d\.\d\de-\d\d$", lines[5])
    assert re.match(r"  weight +\(2, 3\) ", lines[6])
    assert re.match(r"  bias +\(2,\) ", lines[7])
    assert "contract: 13 rules passed: forward-output, forward-keeps-input," in text
    assert "backward-uses-last-forward" in text


def test_report_rules_all_checked() -> None:
    report = check_layer(Linear(3, 2, rng=0), batch((4, 3)))

    assert report.rules == tuple(CONTRACT_RULES)
    assert report.skipped_rules == ()
    assert report.rtol == minigrad.gradcheck.DEFAULT_RTOL
    assert report.atol == minigrad.gradcheck.DEFAULT_ATOL
    assert report.step == minigrad.gradcheck.DEFAULT_STEP


def test_report_constant_input_skips_rule() -> None:
    report = check_layer(Sigmoid(), np.full((2, 3), 0.5))

    assert [rule for rule, _ in report.skipped_rules] == ["backward-uses-last-forward"]
    assert "backward-uses-last-forward" not in report.rules
    assert "not checked: backward-uses-last-forward, because every element" in str(report)


def test_report_tolerance_arguments() -> None:
    report = check_layer(Sigmoid(), batch((2, 2)), rtol=1e-3, atol=1e-4, step=1e-5)

    assert (report.rtol, report.atol, report.step) == (1e-3, 1e-4, 1e-5)
    assert "step 1e-05 * max(1, |value|)" in str(report)
    assert "<= 0.0001 + 0.001 * |numeric|" in str(report)


def test_loose_rtol_accepts_wrong_derivative() -> None:
    # The faulty derivative is off by a factor 1 / (1 - s), which is at most 1.02 here.
    x = np.full((1, 3), -4.0) + np.array([0.0, 0.1, 0.2])

    report = check_layer(WrongDerivative(), x, rtol=0.05)

    assert report.tensors[0].passed
    with pytest.raises(GradientCheckError):
        check_layer(WrongDerivative(), x)


# --- The check leaves the layer and the caller's arrays unchanged. ---------------------------


def test_layer_state_restored() -> None:
    model = Sequential(Linear(3, 4, rng=0), Sigmoid(), Linear(4, 2, rng=1))
    generator = np.random.default_rng(5)
    for parameter in model.parameters():
        parameter.grad[...] = generator.normal(size=parameter.shape)
    data_before = [parameter.data.copy() for parameter in model.parameters()]
    grad_before = [parameter.grad.copy() for parameter in model.parameters()]

    check_layer(model, batch((2, 3)))

    for parameter, data, grad in zip(model.parameters(), data_before, grad_before, strict=True):
        assert np.array_equal(parameter.data, data)
        assert np.array_equal(parameter.grad, grad)
    with pytest.raises(RuntimeError, match=r"backward was called without a preceding"):
        model.backward(np.zeros((2, 2)))


def test_state_restored_after_failure() -> None:
    layer = BiasSummedOverFeatures(in_features=2, out_features=3)
    layer.weight.grad[...] = 7.0
    data_before = layer.weight.data.copy(), layer.bias.data.copy()

    with pytest.raises(GradientCheckError):
        check_layer(layer, batch((3, 2)))

    assert np.array_equal(layer.weight.data, data_before[0])
    assert np.array_equal(layer.bias.data, data_before[1])
    assert np.all(layer.weight.grad == 7.0)
    assert np.all(layer.bias.grad == 0.0)


def test_state_restored_after_forward_change() -> None:
    layer = WeightUpdatedInForward(3, 2)
    weight_before = layer.weight.data.copy()

    with pytest.raises(LayerContractError):
        check_layer(layer, batch((4, 3)))

    assert np.array_equal(layer.weight.data, weight_before)


def test_caller_input_unchanged() -> None:
    x = batch((3, 4))
    x_before = x.copy()

    with pytest.raises(LayerContractError):
        check_layer(InputModifiedInPlace(), x)

    assert np.array_equal(x, x_before)


def test_read_only_input_accepted() -> None:
    x = batch((3, 4))
    x.flags.writeable = False

    report = check_layer(Sigmoid(), x)

    assert report.tensors[0].passed


def test_same_seed_same_report() -> None:
    first = check_layer(Linear(3, 2, rng=0), batch((4, 3)), rng=7)
    second = check_layer(Linear(3, 2, rng=0), batch((4, 3)), rng=7)

    assert first == second


# --- Invalid arguments raise before any call to the layer. -------------------------------


def test_integer_input_rejected() -> None:
    with pytest.raises(
        TypeError, match=r"x has dtype int64, but finite differences need floating-point.*"
        r"x\.astype\(np\.float64\)"
    ):
        check_layer(Sigmoid(), np.array([[1, 2, 3]], dtype=np.int64))


def test_bool_input_rejected() -> None:
    with pytest.raises(TypeError, match=r"x has dtype bool"):
        check_layer(Sigmoid(), np.array([[True, False]]))


def test_empty_input_rejected() -> None:
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 3\)\)"):
        check_layer(Linear(3, 2, rng=0), np.zeros((0, 3)))


def test_non_finite_input_rejected() -> None:
    with pytest.raises(ValueError, match=r"x contains 2 NaN or infinite values"):
        check_layer(Sigmoid(), np.array([[0.0, np.nan, np.inf]]))


def test_ragged_input_rejected() -> None:
    with pytest.raises(TypeError, match=r"x could not be converted to a numeric array"):
        check_layer(Sigmoid(), [[1.0, 2.0], [3.0]])


def test_empty_prediction_rejected() -> None:
    with pytest.raises(ValueError, match=r"prediction is empty"):
        check_loss(MSELoss(), np.zeros((0,)), np.zeros((0,)))


def test_integer_prediction_rejected() -> None:
    with pytest.raises(TypeError, match=r"prediction has dtype int64"):
        check_loss(MSELoss(), np.array([1, 2]), np.array([1.0, 2.0]))


def test_non_module_rejected() -> None:
    with pytest.raises(TypeError, match=r"layer must be a Module, got function"):
        check_layer(identity, batch((2, 2)))  # type: ignore[arg-type]


def test_loss_given_to_check_layer() -> None:
    with pytest.raises(TypeError, match=r"For a loss, call check_loss"):
        check_layer(MSELoss(), batch((2, 2)))  # type: ignore[arg-type]


def test_layer_given_to_check_loss() -> None:
    with pytest.raises(TypeError, match=r"For a layer, call check_layer"):
        check_loss(Sigmoid(), batch((2, 2)), batch((2, 2)))  # type: ignore[arg-type]


def test_float32_parameters_rejected() -> None:
    layer = Linear(3, 2, rng=0, dtype=np.float32)
    with pytest.raises(
        TypeError, match=r"parameter weight of Linear\(.*\) is float32.*dtype=np\.float64"
    ):
        check_layer(layer, batch((2, 3)))


def test_float32_computation_rejected() -> None:
    with pytest.raises(TypeError, match=r"forward returned dtype float32 for a float64 input"):
        check_layer(Float32Compute(3, 2), batch((2, 3)))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"rtol": -1.0}, r"rtol must be a finite number >= 0, got -1\.0"),
        ({"atol": float("nan")}, r"atol must be a finite number >= 0, got nan"),
        ({"step": 0.0}, r"step must be between 0 and 1 \(exclusive\), got 0\.0"),
        ({"step": 2.0}, r"step must be between 0 and 1 \(exclusive\), got 2\.0"),
    ],
)
def test_invalid_tolerance_rejected(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_layer(Sigmoid(), batch((2, 2)), **arguments)


def test_string_tolerance_rejected() -> None:
    with pytest.raises(TypeError, match=r"rtol must be a number, got '1e-5'"):
        check_layer(Sigmoid(), batch((2, 2)), rtol="1e-5")  # type: ignore[arg-type]


def test_invalid_rng_rejected() -> None:
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        check_layer(Sigmoid(), batch((2, 2)), rng="seed")  # type: ignore[arg-type]


def test_first_forward_error_passed_on() -> None:
    with pytest.raises(ValueError, match=r"expected input with 3 features in its last dimension"):
        check_layer(Linear(3, 2, rng=0), batch((2, 5)))
