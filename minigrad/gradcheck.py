"""Gradient and contract checks for layers and losses with a hand-written ``backward``.

``check_layer(layer, x)`` and ``check_loss(loss, prediction, target)`` run the object through
a fixed sequence of calls. They first test the rules of the forward/backward contract (see
``CONTRACT_RULES``), then compare every analytic gradient with central finite differences
in float64. The first broken rule raises ``LayerContractError`` and a gradient mismatch
raises its subclass ``GradientCheckError``. Both derive from ``AssertionError``, so a check
called inside a pytest test fails that test with the message. On success the functions
return a ``GradientCheckReport`` whose ``str`` is a readable summary.

Numeric gradients use a scalar function of the output. For a layer it is
``f = sum(forward(x) * G)`` with a random upstream gradient ``G`` drawn from N(0, 1), so
``df/dx`` is exactly what ``backward(G)`` must return. For a loss it is the loss itself.
Element ``i`` of a tensor ``v`` gets the step ``h_i = step * max(1, |v_i|)`` and the
derivative ``(f(v_i + h_i) - f(v_i - h_i)) / (2 * h_i)``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad._array import Array
from minigrad._random import as_generator
from minigrad.losses import Loss
from minigrad.module import Module
from minigrad.parameter import Parameter

DEFAULT_STEP = 1e-6
"""Relative step of the central differences, chosen for float64.

The truncation error of a central difference is O(h**2) and its rounding error is
O(eps / h) with eps = 2.2e-16. A step of 1e-6 keeps the truncation error near 1e-12 and the
rounding error near 1e-10, both far below ``DEFAULT_RTOL``. The step is scaled by
``max(1, |value|)`` so that large values still move by more than their rounding error.
"""

DEFAULT_RTOL = 1e-5
"""Relative tolerance of the gradient comparison.

An element passes if ``|analytic - numeric| <= atol + rtol * |numeric| + rounding``, where
``rounding`` is the estimate described at ``ROUNDING_FACTOR``. On Linear, Sigmoid,
Sequential and MSELoss with random inputs of up to 32 x 64 elements, the largest error
measured was about 1% of this tolerance. A wrong formula, such as a missing factor or a
transposed product, is off by far more.
"""

DEFAULT_ATOL = 1e-7
"""Absolute tolerance, which covers elements whose true gradient is zero or tiny."""

ROUNDING_FACTOR = 64.0
"""Factor of the rounding-error allowance that is added to each element's tolerance.

A numeric derivative divides a difference of two function values by ``2 * h``, so their
rounding error, about ``eps * |f|``, grows by ``1 / h``. A loss summed over thousands of
elements reaches ``|f| = 1e5`` and an error near 1e-6, above ``DEFAULT_ATOL``. Each element
therefore also gets ``ROUNDING_FACTOR * eps * (|f(v + h)| + |f(v - h)|) / (2 * h)``, where
only the output elements that the perturbation changed count toward ``|f|``. The factor
64 is an estimate: the error of a sum of ``n`` terms grows like ``sqrt(n) * eps`` for
random rounding, and ``sqrt(n)`` is 64 for n = 4096.
"""

_EPSILON = float(np.finfo(np.float64).eps)

CONTRACT_RULES: dict[str, str] = {
    "forward-output": "forward returns a floating-point numpy array",
    "forward-keeps-input": "forward leaves its input unchanged",
    "keeps-parameters": "forward and backward leave parameter values unchanged",
    "forward-deterministic": "forward returns the same output for the same input",
    "backward-output": "backward returns a floating-point array shaped like its input",
    "backward-keeps-grad-output": "backward leaves grad_output unchanged",
    "grad-shape-dtype": "each parameter's .grad keeps the parameter's shape and dtype",
    "backward-requires-forward": "backward without a preceding forward raises RuntimeError",
    "backward-accumulates": "backward adds into .grad instead of replacing it",
    "backward-repeatable": "a repeated forward and backward gives the same gradients",
    "backward-checks-shape": (
        "backward raises ValueError for a grad_output of the wrong shape and changes nothing"
    ),
    "backward-uses-last-forward": "backward uses what the last forward cached",
    "call-raised": "forward and backward do not raise for valid arguments",
}
"""Identifier and description of each contract rule, as stored in ``LayerContractError.rule``.

A loss is checked against the rules that apply to it: it has no ``grad_output`` and no
parameters, and its ``forward`` returns a float.
"""

GRADIENT_RULE = "gradient"
"""The ``rule`` of a ``GradientCheckError``: backward returns the derivative of forward."""


class LayerContractError(AssertionError):
    """Raised when a layer or a loss breaks a rule of the forward/backward contract.

    Attributes:
        rule: Identifier of the broken rule, a key of ``CONTRACT_RULES`` or ``"gradient"``.
        owner: ``repr`` of the checked layer or loss.
    """

    def __init__(self, message: str, *, rule: str, owner: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.owner = owner


class GradientCheckError(LayerContractError):
    """Raised when an analytic gradient differs from central finite differences.

    The attributes describe the worst element of the first mismatched tensor, in the
    order input (or prediction), then parameters in ``named_parameters()`` order. The
    worst element is the one whose error is the largest multiple of its tolerance.

    Attributes:
        tensor_name: ``"input"``, ``"prediction"`` or a parameter name such as ``"0.bias"``.
        index: Index of the worst element in that tensor.
        analytic: Gradient at ``index`` computed by ``backward``.
        numeric: Gradient at ``index`` computed by central differences.
        relative_error: ``|analytic - numeric| / max(|analytic|, |numeric|)``.
        mismatched_tensors: Names of every tensor that failed, the first one included.
    """

    def __init__(
        self,
        message: str,
        *,
        owner: str,
        tensor_name: str,
        index: tuple[int, ...],
        analytic: float,
        numeric: float,
        relative_error: float,
        mismatched_tensors: tuple[str, ...],
    ) -> None:
        super().__init__(message, rule=GRADIENT_RULE, owner=owner)
        self.tensor_name = tensor_name
        self.index = index
        self.analytic = analytic
        self.numeric = numeric
        self.relative_error = relative_error
        self.mismatched_tensors = mismatched_tensors


@dataclass(frozen=True)
class TensorCheck:
    """Comparison of one tensor's analytic gradient with its numeric gradient.

    The scalar fields describe the worst element, the one whose error is the largest
    multiple of its tolerance ``atol + rtol * |numeric| + rounding``.
    """

    name: str
    shape: tuple[int, ...]
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    abs_error: float
    relative_error: float
    tolerance_ratio: float
    """Error of the worst element divided by its tolerance. The tensor passes below 1."""
    mismatched_count: int
    """Number of elements outside the tolerance."""

    @property
    def passed(self) -> bool:
        """True if every element is within the tolerance."""
        return self.mismatched_count == 0


@dataclass(frozen=True)
class GradientCheckReport:
    """Result of a successful ``check_layer`` or ``check_loss``, printable with ``str``."""

    owner: str
    """``repr`` of the checked layer or loss."""
    input_shape: tuple[int, ...]
    input_dtype: np.dtype[Any]
    """Dtype of the array that the caller passed; the check itself runs in float64."""
    step: float
    rtol: float
    atol: float
    tensors: tuple[TensorCheck, ...]
    rules: tuple[str, ...]
    """Identifiers of the contract rules that were checked and passed."""
    skipped_rules: tuple[tuple[str, str], ...] = ()
    """``(rule, reason)`` for each rule that could not be checked with this input."""

    def __str__(self) -> str:
        lines = [
            f"Gradient check passed: {self.owner}",
            f"  input shape {self.input_shape}, given as {self.input_dtype}, checked in float64",
            f"  central differences with step {self.step:g} * max(1, |value|)",
            f"  an element passes if |analytic - numeric| <= {self.atol:g} + {self.rtol:g} "
            f"* |numeric| + rounding estimate",
        ]
        header = ("tensor", "shape", "max abs error", "max error / tolerance")
        rows = [
            (check.name, str(check.shape), f"{check.abs_error:.2e}", f"{check.tolerance_ratio:.2e}")
            for check in self.tensors
        ]
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(4)]
        for row in [header, *rows]:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append("  " + "  ".join(cells).rstrip())
        rule_list = textwrap.wrap(
            f"contract: {len(self.rules)} rules passed: {', '.join(self.rules)}",
            width=92,
            break_on_hyphens=False,
            subsequent_indent="    ",
        )
        lines.extend("  " + line for line in rule_list)
        for rule, reason in self.skipped_rules:
            lines.append(f"  not checked: {rule}, because {reason}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Tolerance:
    rtol: float
    atol: float
    step: float

    def allowed(self, reference: Array) -> Array:
        allowed: Array = self.atol + self.rtol * np.abs(reference)
        return allowed

    def close(self, actual: Array, expected: Array) -> bool:
        return bool(np.all(np.abs(actual - expected) <= self.allowed(expected)))


def check_layer(
    layer: Module,
    x: npt.ArrayLike,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    step: float = DEFAULT_STEP,
    rng: np.random.Generator | int | None = 0,
) -> GradientCheckReport:
    """Check a layer's contract and compare its gradients with central finite differences.

    Works on any ``Module``, including ``Sequential`` and layers with their own parameters.
    The check runs in float64: a float32 ``x`` is converted, and the layer's parameters
    must already be float64. Build the layer with ``dtype=np.float64`` to check it, because
    float32 finite differences cannot tell a wrong gradient from rounding error.

    The upstream gradient ``G`` is drawn from N(0, 1) with the shape of the output. The
    numeric gradient of element ``i`` is
    ``sum((forward(x + h_i e_i) - forward(x - h_i e_i)) * G) / (2 * h_i)``, with
    ``h_i = step * max(1, |x_i|)``, and the same for each parameter element.

    A layer that draws random numbers in ``forward``, such as Dropout in training mode,
    fails the rule ``forward-deterministic``. Check it in a deterministic mode instead, or
    give it a generator that repeats its draws. Layers with kinks, such as ReLU, need an
    ``x`` whose elements are farther than ``h_i`` from the kink.

    Args:
        layer: The layer to check.
        x: A non-empty, finite, floating-point input, which is copied and never changed.
        rtol: Relative tolerance, see ``DEFAULT_RTOL``.
        atol: Absolute tolerance, see ``DEFAULT_ATOL``.
        step: Relative step of the central differences, see ``DEFAULT_STEP``.
        rng: Generator or seed for ``G`` and for the other draws of the check. The default
            seed 0 makes the check repeatable.

    Returns:
        A report with one ``TensorCheck`` per tensor: ``"input"``, then every parameter.

    Raises:
        LayerContractError: A contract rule failed; ``rule`` names it.
        GradientCheckError: A gradient differs from the numeric one.
        TypeError: ``layer`` is not a ``Module``, ``x`` is not floating-point, or the layer
            has float32 parameters or computes in float32.
        ValueError: ``x`` is empty or not finite, or a tolerance is invalid. Errors that
            the first ``forward(x)`` raises are passed through unchanged.

    The parameter values and ``.grad`` arrays are restored bit for bit before the function
    returns or raises. The layer's cache is released on success.
    """
    tolerance = _validate_tolerances("check_layer", rtol, atol, step)
    if not isinstance(layer, Module):
        hint = (
            " For a loss, call check_loss(loss, prediction, target)."
            if isinstance(layer, Loss)
            else " Pass a layer instance such as Linear(3, 2)."
        )
        raise TypeError(f"check_layer: layer must be a Module, got {type(layer).__name__}.{hint}")
    source_dtype, array = _validate_input("check_layer", "x", x)
    parameters = list(layer.named_parameters())
    _check_parameter_dtypes(layer, parameters)
    generator = as_generator(rng, "check_layer")

    checker = _LayerChecker(layer, array, parameters, generator, tolerance)
    with _restored_parameters(parameters):
        tensors, skipped = checker.run()
    return _report(layer, array, source_dtype, tolerance, tensors, _LAYER_RULES, skipped)


def check_loss(
    loss: Loss,
    prediction: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    step: float = DEFAULT_STEP,
    rng: np.random.Generator | int | None = 0,
) -> GradientCheckReport:
    """Check a loss's contract and compare ``backward()`` with central finite differences.

    The numeric gradient of element ``i`` is
    ``(loss(p + h_i e_i, target) - loss(p - h_i e_i, target)) / (2 * h_i)`` with
    ``h_i = step * max(1, |p_i|)``. The prediction is checked in float64. The target is
    passed as given, so integer class labels stay integers, and it is not differentiated.

    Args:
        loss: The loss to check.
        prediction: A non-empty, finite, floating-point prediction, which is copied.
        target: The target, which is copied and never changed.
        rtol: Relative tolerance, see ``DEFAULT_RTOL``.
        atol: Absolute tolerance, see ``DEFAULT_ATOL``.
        step: Relative step of the central differences, see ``DEFAULT_STEP``.
        rng: Generator or seed for the draws of the check; the default seed 0 makes the
            check repeatable.

    Returns:
        A report with one ``TensorCheck``, named ``"prediction"``.

    Raises:
        LayerContractError: A contract rule failed; ``rule`` names it.
        GradientCheckError: ``backward()`` differs from the numeric gradient.
        TypeError: ``loss`` is not a ``Loss`` or ``prediction`` is not floating-point.
        ValueError: ``prediction`` is empty or not finite, or a tolerance is invalid. Errors
            that the first ``forward(prediction, target)`` raises are passed through.
    """
    tolerance = _validate_tolerances("check_loss", rtol, atol, step)
    if not isinstance(loss, Loss):
        hint = (
            " For a layer, call check_layer(layer, x)."
            if isinstance(loss, Module)
            else " Pass a loss instance such as MSELoss()."
        )
        raise TypeError(f"check_loss: loss must be a Loss, got {type(loss).__name__}.{hint}")
    source_dtype, array = _validate_input("check_loss", "prediction", prediction)
    try:
        target_array = np.array(target, copy=True)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"check_loss: target could not be converted to an array ({error}). Pass a numpy "
            f"array with a regular shape."
        ) from error
    generator = as_generator(rng, "check_loss")

    tensors, skipped = _LossChecker(loss, array, target_array, generator, tolerance).run()
    return _report(loss, array, source_dtype, tolerance, tensors, _LOSS_RULES, skipped)


def _report(
    owner: object,
    array: Array,
    source_dtype: np.dtype[Any],
    tolerance: _Tolerance,
    tensors: tuple[TensorCheck, ...],
    rules: tuple[str, ...],
    skipped: tuple[tuple[str, str], ...],
) -> GradientCheckReport:
    """Build the report of a passed check; the rules listed are those not skipped."""
    skipped_names = dict(skipped)
    return GradientCheckReport(
        owner=repr(owner),
        input_shape=array.shape,
        input_dtype=source_dtype,
        step=tolerance.step,
        rtol=tolerance.rtol,
        atol=tolerance.atol,
        tensors=tensors,
        rules=tuple(rule for rule in rules if rule not in skipped_names),
        skipped_rules=skipped,
    )


_LAYER_RULES = tuple(CONTRACT_RULES)
_LOSS_RULES = (
    "forward-output",
    "forward-keeps-input",
    "forward-deterministic",
    "backward-output",
    "backward-requires-forward",
    "backward-repeatable",
    "backward-uses-last-forward",
    "call-raised",
)


class _LayerChecker:
    """The sequence of calls that ``check_layer`` makes, one method per group of rules."""

    def __init__(
        self,
        layer: Module,
        x: Array,
        parameters: list[tuple[str, Parameter]],
        generator: np.random.Generator,
        tolerance: _Tolerance,
    ) -> None:
        self.layer = layer
        self.owner = repr(layer)
        self.x = x
        self.parameters = parameters
        self.generator = generator
        self.tolerance = tolerance
        self.values = {name: parameter.data.copy() for name, parameter in parameters}
        self.output_shape: tuple[int, ...] = ()
        self.reference_output: Array = np.empty(0)
        self.grad_output: Array = np.empty(0)
        self.analytic: dict[str, Array] = {}

    def run(self) -> tuple[tuple[TensorCheck, ...], tuple[tuple[str, str], ...]]:
        self.check_first_pass()
        self.check_backward_requires_forward()
        self.check_repeated_pass()
        self.check_wrong_shape()
        skipped = self.check_last_forward_used()

        checks = _compare(self.analytic, self.numeric_gradients(), self.tolerance)

        # Leave no forward pending, so the layer ends in the state that backward left it.
        self.forward(self.x.copy(), "to release the cache")
        self.backward(self.grad_output.copy(), "to release the cache")
        _raise_first_mismatch(self.owner, checks, self.tolerance, "input")
        return checks, skipped

    # Rules: forward-output, forward-keeps-input, keeps-parameters, backward-output,
    # backward-keeps-grad-output, grad-shape-dtype.
    def check_first_pass(self) -> None:
        x_call = self.x.copy()
        output = self.forward(x_call, "", first=True)
        _check_unchanged(self.owner, "forward-keeps-input", "forward(x)", "x", x_call, self.x)
        self.check_parameters_unchanged("forward(x)")

        self.output_shape = output.shape
        self.reference_output = output.copy()
        self.grad_output = self.generator.standard_normal(output.shape)
        self.layer.zero_grad()

        grad_call = self.grad_output.copy()
        grad_input = self.backward(grad_call, "")
        _check_unchanged(
            self.owner,
            "backward-keeps-grad-output",
            "backward(grad_output)",
            "grad_output",
            grad_call,
            self.grad_output,
        )
        self.check_parameters_unchanged("backward(grad_output)")
        self.check_grad_arrays()

        self.analytic = {"input": grad_input.copy()}
        for name, parameter in self.parameters:
            self.analytic[name] = parameter.grad.copy()

    # Rule: backward-requires-forward. The first pass released the cache.
    def check_backward_requires_forward(self) -> None:
        grads = self.snapshot_grads()
        try:
            self.layer.backward(self.grad_output.copy())
        except RuntimeError:
            pass
        except Exception as error:
            raise _contract_error(
                self.owner,
                "backward-requires-forward",
                f"a second backward after one forward raised {type(error).__name__} "
                f"({error}), expected RuntimeError. Raise RuntimeError when the cache is "
                f"empty, for example with minigrad.module.missing_forward_error(self).",
            ) from error
        else:
            raise _contract_error(
                self.owner,
                "backward-requires-forward",
                "a second backward after one forward returned normally, expected "
                "RuntimeError. backward must release its cache (set it to None) and raise "
                "RuntimeError when the cache is empty, because a stale cache gives wrong "
                "gradients without any error.",
            )
        self.check_grads_unchanged(grads, "backward-requires-forward", "backward without forward")

    # Rules: forward-deterministic, backward-accumulates, backward-repeatable.
    def check_repeated_pass(self) -> None:
        output = self.forward(self.x.copy(), "a second time")
        if not self.tolerance.close(output, self.reference_output):
            index, before, after = _worst_difference(self.reference_output, output)
            raise _contract_error(
                self.owner,
                "forward-deterministic",
                f"two forward calls on the same x returned different outputs: element "
                f"{index} is {before!r}, then {after!r}. The numeric check needs a "
                f"deterministic forward. A layer that is random by design, such as Dropout "
                f"in training mode, must be checked in a deterministic mode or with a "
                f"generator that repeats its draws.",
            )

        # Known nonzero values in .grad show whether backward adds to them or replaces them.
        offsets = {}
        for name, parameter in self.parameters:
            offsets[name] = self.generator.standard_normal(parameter.shape)
            parameter.grad[...] = offsets[name]
        grad_input = self.backward(self.grad_output.copy(), "on a repeated forward")

        for name, parameter in self.parameters:
            first = self.analytic[name]
            if self.tolerance.close(parameter.grad - offsets[name], first):
                continue
            if self.tolerance.close(parameter.grad, first):
                raise _contract_error(
                    self.owner,
                    "backward-accumulates",
                    f"backward replaced {name}.grad instead of adding to it: .grad held "
                    f"nonzero values before the call and held only this call's gradient "
                    f"after it. Write {name}.grad += gradient, because gradients of several "
                    f"batches or of a shared parameter must add up.",
                )
            index, expected, actual = _worst_difference(first, parameter.grad - offsets[name])
            raise _contract_error(
                self.owner,
                "backward-repeatable",
                f"a repeated forward and backward on the same x added a different gradient "
                f"to {name}.grad: element {index} was {expected!r} the first time and "
                f"{actual!r} the second time. backward must depend only on the last "
                f"forward and grad_output, not on earlier calls.",
            )
        if not self.tolerance.close(grad_input, self.analytic["input"]):
            index, expected, actual = _worst_difference(self.analytic["input"], grad_input)
            raise _contract_error(
                self.owner,
                "backward-repeatable",
                f"a repeated forward and backward on the same x returned a different input "
                f"gradient: element {index} was {expected!r} the first time and {actual!r} "
                f"the second time. backward must depend only on the last forward and "
                f"grad_output, not on earlier calls.",
            )

    # Rule: backward-checks-shape.
    def check_wrong_shape(self) -> None:
        self.forward(self.x.copy(), "before the wrong-shape backward")
        grads = self.snapshot_grads()
        wrong_shape = (1, *self.output_shape)
        try:
            self.layer.backward(self.generator.standard_normal(wrong_shape))
        except ValueError:
            pass
        except Exception as error:
            raise _contract_error(
                self.owner,
                "backward-checks-shape",
                f"backward with a grad_output of shape {wrong_shape}, while the last "
                f"output has shape {self.output_shape}, raised {type(error).__name__} "
                f"({error}), expected ValueError. Check the shape first, for example with "
                f"minigrad.module.check_grad_output_shape(self, grad_output, shape).",
            ) from error
        else:
            raise _contract_error(
                self.owner,
                "backward-checks-shape",
                f"backward accepted a grad_output of shape {wrong_shape}, but the last "
                f"output has shape {self.output_shape}, so numpy broadcasting produced a "
                f"wrong gradient without an error. Raise ValueError for any other shape, "
                f"for example with minigrad.module.check_grad_output_shape(self, "
                f"grad_output, shape).",
            )
        self.check_grads_unchanged(grads, "backward-checks-shape", "backward that raised")

        try:
            self.layer.backward(self.grad_output.copy())
        except Exception as error:
            raise _contract_error(
                self.owner,
                "backward-checks-shape",
                f"after backward raised ValueError for the wrong shape, backward with the "
                f"right shape raised {type(error).__name__} ({error}). A failed call must "
                f"change nothing: check the shape before releasing the cache.",
            ) from error

    # Rule: backward-uses-last-forward.
    def check_last_forward_used(self) -> tuple[tuple[str, str], ...]:
        shuffled = self.generator.permutation(self.x.reshape(-1)).reshape(self.x.shape)
        if np.array_equal(shuffled, self.x):
            reason = "every element of x has the same value, so no other input was available"
            return (("backward-uses-last-forward", reason),)

        self.forward(shuffled, "on x with its elements shuffled")
        self.forward(self.x.copy(), "after a forward on another input")
        self.layer.zero_grad()
        grad_input = self.backward(self.grad_output.copy(), "after two forward calls")

        gradients = {"input": grad_input}
        for name, parameter in self.parameters:
            gradients[name] = parameter.grad
        for name, gradient in gradients.items():
            if not self.tolerance.close(gradient, self.analytic[name]):
                index, expected, actual = _worst_difference(self.analytic[name], gradient)
                raise _contract_error(
                    self.owner,
                    "backward-uses-last-forward",
                    f"forward(other), then forward(x), then backward gave a different "
                    f"gradient of {name} than forward(x), then backward: element {index} is "
                    f"{actual!r}, expected {expected!r}. backward used a stale cache. Every "
                    f"forward must replace the whole cache, even when the previous forward "
                    f"had no backward.",
                )
        return ()

    def forward(self, x: Array, when: str, *, first: bool = False) -> Array:
        if first:
            # Errors of the first call come from x or the layer's own checks, so they pass
            # through unchanged.
            output = self.layer.forward(x)
        else:
            try:
                output = self.layer.forward(x)
            except Exception as error:
                raise _contract_error(
                    self.owner,
                    "call-raised",
                    f"forward raised {type(error).__name__} when called {when}, although "
                    f"the first forward(x) succeeded: {error}",
                ) from error
        return _check_array_output(self.owner, "forward", output)

    def backward(self, grad_output: Array, when: str) -> Array:
        try:
            grad_input = self.layer.backward(grad_output)
        except Exception as error:
            raise _contract_error(
                self.owner,
                "call-raised",
                f"backward raised {type(error).__name__} for a grad_output of shape "
                f"{grad_output.shape}, the shape of the last output{_suffix(when)}: {error}. "
                f"A common cause is a parameter gradient whose shape does not match the "
                f"parameter, such as a bias gradient summed over the wrong axis.",
            ) from error
        grad_input = _check_array_output(self.owner, "backward", grad_input, rule="backward-output")
        if grad_input.shape != self.x.shape:
            raise _contract_error(
                self.owner,
                "backward-output",
                f"backward returned a gradient of shape {grad_input.shape}, but x has shape "
                f"{self.x.shape}. backward must return dL/dx with the shape of x.",
            )
        return grad_input

    def numeric_gradients(self) -> dict[str, _NumericGradient]:
        x_work = self.x.copy()

        def evaluate() -> Array:
            return self.forward(x_work, "on a perturbed copy of x or a perturbed parameter")

        step = self.tolerance.step
        numeric = {"input": _central_differences(x_work, evaluate, self.grad_output, step)}
        for name, parameter in self.parameters:
            numeric[name] = _central_differences(parameter.data, evaluate, self.grad_output, step)
        return numeric

    def snapshot_grads(self) -> dict[str, Array]:
        return {name: parameter.grad.copy() for name, parameter in self.parameters}

    def check_grads_unchanged(self, before: dict[str, Array], rule: str, call: str) -> None:
        for name, parameter in self.parameters:
            if not np.array_equal(parameter.grad, before[name]):
                raise _contract_error(
                    self.owner,
                    rule,
                    f"the {call} changed {name}.grad. A failed call must change nothing: "
                    f"run every check before adding into .grad.",
                )

    def check_parameters_unchanged(self, call: str) -> None:
        for name, parameter in self.parameters:
            _check_unchanged(
                self.owner,
                "keeps-parameters",
                call,
                f"{name}.data",
                parameter.data,
                self.values[name],
                fix="Only an optimizer's step may change parameter values.",
            )

    def check_grad_arrays(self) -> None:
        for name, parameter in self.parameters:
            grad = parameter.grad
            if grad.shape != parameter.shape or grad.dtype != parameter.dtype:
                raise _contract_error(
                    self.owner,
                    "grad-shape-dtype",
                    f"{name}.grad has shape {grad.shape} and dtype {grad.dtype}, but the "
                    f"parameter has shape {parameter.shape} and dtype {parameter.dtype}. Add "
                    f"into the existing array with {name}.grad += gradient.",
                )


class _LossChecker:
    """The sequence of calls that ``check_loss`` makes."""

    def __init__(
        self,
        loss: Loss,
        prediction: Array,
        target: Array,
        generator: np.random.Generator,
        tolerance: _Tolerance,
    ) -> None:
        self.loss = loss
        self.owner = repr(loss)
        self.prediction = prediction
        self.target = target
        self.generator = generator
        self.tolerance = tolerance
        self.reference_value = 0.0
        self.analytic: dict[str, Array] = {}

    def run(self) -> tuple[tuple[TensorCheck, ...], tuple[tuple[str, str], ...]]:
        self.check_first_pass()
        self.check_backward_requires_forward()
        self.check_repeated_pass()
        skipped = self.check_last_forward_used()

        prediction = self.prediction.copy()

        def evaluate() -> Array:
            value = self.forward(prediction, "on a perturbed prediction")
            return np.array(value)

        numeric = _central_differences(prediction, evaluate, np.array(1.0), self.tolerance.step)
        checks = _compare(self.analytic, {"prediction": numeric}, self.tolerance)

        self.forward(self.prediction.copy(), "to release the cache")
        self.backward("to release the cache")
        _raise_first_mismatch(self.owner, checks, self.tolerance, "prediction")
        return checks, skipped

    def check_first_pass(self) -> None:
        prediction = self.prediction.copy()
        target = self.target.copy()
        self.reference_value = self.forward(prediction, "", first=True, target=target)
        _check_unchanged(
            self.owner, "forward-keeps-input", "forward(prediction, target)", "prediction",
            prediction, self.prediction,
        )
        _check_unchanged(
            self.owner, "forward-keeps-input", "forward(prediction, target)", "target", target,
            self.target,
        )
        self.analytic = {"prediction": self.backward("").copy()}

    def check_backward_requires_forward(self) -> None:
        try:
            self.loss.backward()
        except RuntimeError:
            return
        except Exception as error:
            raise _contract_error(
                self.owner,
                "backward-requires-forward",
                f"a second backward after one forward raised {type(error).__name__} "
                f"({error}), expected RuntimeError. Raise RuntimeError when the cache is "
                f"empty.",
            ) from error
        raise _contract_error(
            self.owner,
            "backward-requires-forward",
            "a second backward after one forward returned normally, expected RuntimeError. "
            "backward must release its cache (set it to None) and raise RuntimeError when "
            "the cache is empty, because a stale cache gives wrong gradients without any "
            "error.",
        )

    def check_repeated_pass(self) -> None:
        value = self.forward(self.prediction.copy(), "a second time")
        if not math.isclose(value, self.reference_value, rel_tol=self.tolerance.rtol,
                            abs_tol=self.tolerance.atol):
            raise _contract_error(
                self.owner,
                "forward-deterministic",
                f"two forward calls on the same prediction and target returned "
                f"{self.reference_value!r}, then {value!r}. The numeric check needs a "
                f"deterministic forward.",
            )
        gradient = self.backward("on a repeated forward")
        expected = self.analytic["prediction"]
        if not self.tolerance.close(gradient, expected):
            index, first, second = _worst_difference(expected, gradient)
            raise _contract_error(
                self.owner,
                "backward-repeatable",
                f"a repeated forward and backward on the same prediction returned a "
                f"different gradient: element {index} was {first!r} the first time and "
                f"{second!r} the second time. backward must depend only on the last forward.",
            )

    def check_last_forward_used(self) -> tuple[tuple[str, str], ...]:
        shuffled = self.generator.permutation(self.prediction.reshape(-1))
        shuffled = shuffled.reshape(self.prediction.shape)
        if np.array_equal(shuffled, self.prediction):
            reason = "every element of the prediction has the same value"
            return (("backward-uses-last-forward", reason),)

        self.forward(shuffled, "on the prediction with its elements shuffled")
        self.forward(self.prediction.copy(), "after a forward on another prediction")
        gradient = self.backward("after two forward calls")
        expected = self.analytic["prediction"]
        if not self.tolerance.close(gradient, expected):
            index, first, second = _worst_difference(expected, gradient)
            raise _contract_error(
                self.owner,
                "backward-uses-last-forward",
                f"forward(other), then forward(prediction), then backward gave a different "
                f"gradient than forward(prediction), then backward: element {index} is "
                f"{second!r}, expected {first!r}. backward used a stale cache. Every "
                f"forward must replace the whole cache.",
            )
        return ()

    def forward(
        self, prediction: Array, when: str, *, first: bool = False, target: Array | None = None
    ) -> float:
        target = self.target.copy() if target is None else target
        if first:
            value = self.loss.forward(prediction, target)
        else:
            try:
                value = self.loss.forward(prediction, target)
            except Exception as error:
                raise _contract_error(
                    self.owner,
                    "call-raised",
                    f"forward raised {type(error).__name__} when called {when}, although "
                    f"the first forward(prediction, target) succeeded: {error}",
                ) from error
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, np.floating)):
            raise _contract_error(
                self.owner,
                "forward-output",
                f"forward returned {type(value).__name__} {value!r}, expected a float. "
                f"Return the loss as float(value).",
            )
        if not math.isfinite(value):
            raise _contract_error(
                self.owner,
                "forward-output",
                f"forward returned {value!r}, expected a finite loss. Check the formula "
                f"for overflow or a logarithm of zero.",
            )
        return float(value)

    def backward(self, when: str) -> Array:
        try:
            gradient = self.loss.backward()
        except Exception as error:
            raise _contract_error(
                self.owner,
                "call-raised",
                f"backward raised {type(error).__name__}{_suffix(when)}: {error}",
            ) from error
        gradient = _check_array_output(self.owner, "backward", gradient, rule="backward-output")
        if gradient.shape != self.prediction.shape:
            raise _contract_error(
                self.owner,
                "backward-output",
                f"backward returned a gradient of shape {gradient.shape}, but the prediction "
                f"has shape {self.prediction.shape}. backward must return dL/d(prediction) "
                f"with the prediction's shape.",
            )
        return gradient


@dataclass(frozen=True)
class _NumericGradient:
    values: Array
    rounding: Array
    """Estimated bound on the rounding error of each element of ``values``."""


def _central_differences(
    array: Array, evaluate: Callable[[], Array], weights: Array, step: float
) -> _NumericGradient:
    """Compute d(sum(evaluate() * weights))/d(array), perturbing ``array`` in place.

    Each element is restored bit for bit after its two evaluations, even if one raises.
    Output elements that a perturbation does not reach cancel exactly in ``plus - minus``,
    so only the elements that changed contribute rounding error. Their magnitude gives
    the estimate ``ROUNDING_FACTOR * eps * sum(|plus * w| + |minus * w|) / (2 * h)``.
    """
    values = np.zeros(array.shape, dtype=np.float64)
    rounding = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        step_size = step * max(1.0, abs(float(original)))
        try:
            array[index] = original + step_size
            upper_input = float(array[index])
            plus = np.array(evaluate(), dtype=np.float64)
            array[index] = original - step_size
            lower_input = float(array[index])
            minus = np.array(evaluate(), dtype=np.float64)
        finally:
            array[index] = original

        # The rounded inputs give the step actually taken.
        width = upper_input - lower_input
        values[index] = float(np.sum((plus - minus) * weights)) / width
        changed = plus != minus
        magnitude = np.sum(np.abs(plus * weights)[changed]) + np.sum(
            np.abs(minus * weights)[changed]
        )
        rounding[index] = ROUNDING_FACTOR * _EPSILON * float(magnitude) / width
    return _NumericGradient(values, rounding)


def _compare(
    analytic: dict[str, Array], numeric: dict[str, _NumericGradient], tolerance: _Tolerance
) -> tuple[TensorCheck, ...]:
    checks = []
    for name, gradient in numeric.items():
        expected = gradient.values
        actual = analytic[name].astype(np.float64)
        error = np.abs(actual - expected)
        ratio = error / (tolerance.allowed(expected) + gradient.rounding)
        worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.size else ()
        worst_index = tuple(int(i) for i in worst)
        analytic_value = float(actual[worst_index]) if ratio.size else 0.0
        numeric_value = float(expected[worst_index]) if ratio.size else 0.0
        checks.append(
            TensorCheck(
                name=name,
                shape=expected.shape,
                worst_index=worst_index,
                analytic=analytic_value,
                numeric=numeric_value,
                abs_error=float(error.max()) if error.size else 0.0,
                relative_error=_relative_error(analytic_value, numeric_value),
                tolerance_ratio=float(ratio.max()) if ratio.size else 0.0,
                mismatched_count=int(np.count_nonzero(ratio > 1)),
            )
        )
    return tuple(checks)


def _raise_first_mismatch(
    owner: str, checks: tuple[TensorCheck, ...], tolerance: _Tolerance, input_name: str
) -> None:
    failed = [check for check in checks if not check.passed]
    if not failed:
        return
    check = failed[0]
    size = math.prod(check.shape)
    if check.name == input_name:
        hint = "Check the formula of the gradient that backward returns"
    else:
        hint = f"Check the formula of the gradient that backward adds into {check.name}.grad"
    others = ""
    if len(failed) > 1:
        others = " Also mismatched: " + ", ".join(other.name for other in failed[1:]) + "."
    raise GradientCheckError(
        f"{owner}: gradient of {check.name} does not match central finite differences in "
        f"{check.mismatched_count} of {size} elements. Worst element {check.name}"
        f"{list(check.worst_index)}: analytic {check.analytic:.10g}, numeric "
        f"{check.numeric:.10g}, relative error {check.relative_error:.3g}, which is "
        f"{check.tolerance_ratio:.3g} times the tolerance (rtol {tolerance.rtol:g}, atol "
        f"{tolerance.atol:g}).{others} {hint}.",
        owner=owner,
        tensor_name=check.name,
        index=check.worst_index,
        analytic=check.analytic,
        numeric=check.numeric,
        relative_error=check.relative_error,
        mismatched_tensors=tuple(other.name for other in failed),
    )


def _relative_error(analytic: float, numeric: float) -> float:
    scale = max(abs(analytic), abs(numeric))
    return 0.0 if scale == 0 else abs(analytic - numeric) / scale


def _worst_difference(expected: Array, actual: Array) -> tuple[tuple[int, ...], float, float]:
    difference = np.abs(np.asarray(actual, dtype=np.float64) - expected)
    flat = int(np.argmax(np.where(np.isnan(difference), np.inf, difference)))
    index = tuple(int(i) for i in np.unravel_index(flat, difference.shape))
    return index, float(expected[index]), float(actual[index])


def _check_unchanged(
    owner: str, rule: str, call: str, name: str, after: Array, before: Array, fix: str = ""
) -> None:
    if after.shape == before.shape and np.array_equal(after, before, equal_nan=True):
        return
    if after.shape != before.shape:
        detail = f"its shape changed from {before.shape} to {after.shape}"
    else:
        index, old, new = _worst_difference(before, after)
        detail = f"element {index} changed from {old!r} to {new!r}"
    if not fix:
        fix = (
            f"Compute into a new array (for example y = x * 2, not x *= 2), because the "
            f"caller and other layers still use {name}."
        )
    raise _contract_error(owner, rule, f"{call} modified {name} in place: {detail}. {fix}")


def _check_array_output(
    owner: str, call: str, value: object, rule: str = "forward-output"
) -> Array:
    if not isinstance(value, np.ndarray):
        raise _contract_error(
            owner,
            rule,
            f"{call} returned {type(value).__name__}, expected a numpy ndarray. Return an "
            f"array, for example np.asarray(result).",
        )
    if value.dtype.kind != "f":
        raise _contract_error(
            owner,
            rule,
            f"{call} returned an array of dtype {value.dtype}, expected a floating-point "
            f"dtype. Compute in the input's floating-point dtype.",
        )
    if call == "forward" and value.dtype != np.float64:
        raise TypeError(
            f"{owner}: forward returned dtype {value.dtype} for a float64 input, so its "
            f"gradients cannot be checked in float64. Make the layer compute in its input's "
            f"dtype, or build it with dtype=np.float64 for the check."
        )
    return value


def _contract_error(owner: str, rule: str, detail: str) -> LayerContractError:
    return LayerContractError(f"{owner}: {detail} [rule {rule}]", rule=rule, owner=owner)


def _suffix(when: str) -> str:
    return f", when called {when}" if when else ""


def _validate_tolerances(function: str, rtol: float, atol: float, step: float) -> _Tolerance:
    for name, value in (("rtol", rtol), ("atol", atol), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{function}: {name} must be a number, got {value!r}.")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{function}: {name} must be a finite number >= 0, got {value!r}.")
    if not 0 < step < 1:
        raise ValueError(
            f"{function}: step must be between 0 and 1 (exclusive), got {step!r}. The "
            f"default {DEFAULT_STEP:g} suits float64."
        )
    return _Tolerance(rtol=float(rtol), atol=float(atol), step=float(step))


def _validate_input(function: str, name: str, value: npt.ArrayLike) -> tuple[np.dtype[Any], Array]:
    """Return the dtype of ``value`` and a float64 copy, or raise for unusable input."""
    try:
        source = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"{function}: {name} could not be converted to a numeric array ({error}). Pass a "
            f"numpy array of floats."
        ) from error
    if source.dtype.kind != "f":
        raise TypeError(
            f"{function}: {name} has dtype {source.dtype}, but finite differences need "
            f"floating-point input. Pass {name}.astype(np.float64)."
        )
    if source.size == 0:
        raise ValueError(
            f"{function}: {name} is empty (shape {source.shape}), so there is no gradient to "
            f"check. Pass at least one element, for example a batch of one."
        )
    array = np.array(source, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(array)):
        count = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(
            f"{function}: {name} contains {count} NaN or infinite values (after conversion to "
            f"float64), so finite differences are undefined. Pass finite values."
        )
    return source.dtype, array


def _check_parameter_dtypes(layer: Module, parameters: list[tuple[str, Parameter]]) -> None:
    for name, parameter in parameters:
        if parameter.dtype != np.float64:
            raise TypeError(
                f"check_layer: parameter {name} of {layer!r} is {parameter.dtype}, but the "
                f"check runs in float64, because float32 finite differences cannot tell a "
                f"wrong gradient from rounding error. Build the layer with dtype=np.float64 "
                f"for the check."
            )


@contextmanager
def _restored_parameters(parameters: list[tuple[str, Parameter]]) -> Iterator[None]:
    """Restore every parameter's values and ``.grad`` bit for bit when the block exits."""
    saved = [
        (parameter, parameter.data.copy(), parameter.grad.copy()) for _, parameter in parameters
    ]
    try:
        yield
    finally:
        for parameter, data, grad in saved:
            # A layer that broke the grad-shape-dtype rule may hold an array of another shape.
            if parameter.data.shape == data.shape:
                parameter.data[...] = data
            if parameter.grad.shape == grad.shape:
                parameter.grad[...] = grad


__all__ = [
    "CONTRACT_RULES",
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "DEFAULT_STEP",
    "GradientCheckError",
    "GradientCheckReport",
    "LayerContractError",
    "TensorCheck",
    "check_layer",
    "check_loss",
]
