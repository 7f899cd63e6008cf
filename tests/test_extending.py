"""Tests of examples/custom_layer.py and of the worked layer in docs/extending.md."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import minigrad
from minigrad import GradientCheckError, LayerContractError
from minigrad.module import check_grad_output_shape, missing_forward_error

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "extending.md"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "custom_layer_example", ROOT / "examples" / "custom_layer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()


def code_blocks(language: str) -> list[str]:
    pattern = rf"```{language}\n(.*?)```"
    return re.findall(pattern, DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


# --- The example script. -------------------------------------------------------------------


def test_example_main_trains(capsys: pytest.CaptureFixture[str]) -> None:
    result = example.main([])

    inputs = np.linspace(-2.0, 2.0, 64)
    constant_error = float(np.var(np.sin(2.0 * inputs)))
    assert result.target_variance == pytest.approx(constant_error)
    # The trained network must beat the best constant prediction by a factor of 100.
    assert result.losses[-1] < 0.01 * constant_error
    assert result.losses[-1] < result.losses[0]
    assert len(result.losses) == 3001


def test_example_beta_learned() -> None:
    result = example.main(["--steps", "300"])

    assert result.beta.shape == (16,)
    assert np.max(np.abs(result.beta - 1.0)) > 0.01


def test_example_prints_reports(capsys: pytest.CaptureFixture[str]) -> None:
    result = example.main(["--steps", "10"])

    output = capsys.readouterr().out
    assert output.startswith("Gradient check passed: Swish(num_features=3)\n")
    assert "Gradient check passed: Sequential(" in output
    assert re.search(r"\n  1\.beta +\(16,\) ", output)
    assert f"Loss before training: {result.losses[0]:.4f}\n" in output
    assert f"Loss after 10 steps: {result.losses[-1]:.4f}\n" in output


def test_example_reports_tensors() -> None:
    result = example.main(["--steps", "0"])

    assert [check.name for check in result.layer_report.tensors] == ["input", "beta"]
    names = [check.name for check in result.network_report.tensors]
    assert names == ["input", "0.weight", "0.bias", "1.beta", "2.weight", "2.bias"]


def test_example_negative_steps_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        example.main(["--steps", "-1"])

    assert "--steps must be >= 0, got -1" in capsys.readouterr().err


def test_swish_matches_formula() -> None:
    x = np.array([[-1.5, 0.0, 2.0]])
    layer = example.Swish(3, beta=0.5)

    output = layer.forward(x)

    expected = x / (1.0 + np.exp(-0.5 * x))
    np.testing.assert_allclose(output, expected, rtol=1e-15)


def test_swish_extreme_inputs_finite() -> None:
    layer = example.Swish(2)

    output = layer.forward(np.array([[-1000.0, 1000.0]]))

    assert output.tolist() == [[-0.0, 1000.0]]


def test_swish_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"num_features must be a positive integer, got 0"):
        example.Swish(0)
    with pytest.raises(ValueError, match=r"expected input with 3 features.*got shape \(2, 4\)"):
        example.Swish(3).forward(np.zeros((2, 4)))


def test_swish_fault_caught() -> None:
    class SwishBetaGradientWrong(example.Swish):  # type: ignore[name-defined, misc]
        """Uses x where the beta gradient needs x**2."""

        def backward(self, grad_output: Any) -> Any:
            if self._input is None:
                raise missing_forward_error(self)
            x, s = self._input, self._sigmoid
            check_grad_output_shape(self, grad_output, x.shape)
            slope = s * (1.0 - s)
            self.beta.grad += (grad_output * x * slope).reshape(-1, 3).sum(axis=0)
            self._input = None
            self._sigmoid = None
            return grad_output * (s + self.beta.data * x * slope)

    x = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(GradientCheckError, match=r"gradient of beta does not match") as error:
        minigrad.check_layer(SwishBetaGradientWrong(3, beta=0.7), x)

    assert error.value.tensor_name == "beta"
    assert error.value.mismatched_tensors == ("beta",)


# --- The document. -------------------------------------------------------------------------


def test_doc_layer_matches_example() -> None:
    text = DOC.read_text(encoding="utf-8")

    assert inspect.getsource(example.Swish) in text
    assert inspect.getsource(example._sigmoid) in text


def test_doc_code_runs(capsys: pytest.CaptureFixture[str]) -> None:
    definition, check, test = code_blocks("python")
    namespace: dict[str, Any] = {"__name__": "extending_doc"}

    exec(definition, namespace)
    exec(check, namespace)
    exec(test, namespace)
    namespace["test_swish_gradients"]()

    report = namespace["report"]
    assert isinstance(report, minigrad.GradientCheckReport)
    assert [check.name for check in report.tensors] == ["input", "beta"]
    assert capsys.readouterr().out == str(report) + "\n"


def test_doc_report_text_current() -> None:
    definition, check, _ = code_blocks("python")
    namespace: dict[str, Any] = {"__name__": "extending_doc", "print": lambda *_: None}
    exec(definition + check, namespace)
    documented = code_blocks("text")[0].rstrip("\n").splitlines()

    actual = str(namespace["report"]).splitlines()

    # Error values depend on the floating-point rounding of the machine, so only their
    # format is compared.
    number = re.compile(r"\d\.\d\de-\d\d")
    assert len(actual) == len(documented)
    for documented_line, actual_line in zip(documented, actual, strict=True):
        assert number.sub("N", documented_line) == number.sub("N", actual_line)


def test_doc_names_every_rule() -> None:
    text = DOC.read_text(encoding="utf-8")

    for rule in minigrad.gradcheck.CONTRACT_RULES:
        assert f"| `{rule}` |" in text


def test_doc_broken_copy_caught() -> None:
    # A reader who drops the shape check from the documented layer gets the rule that names it.
    definition, _, _ = code_blocks("python")
    broken = definition.replace("check_grad_output_shape(self, grad, x.shape)", "pass")
    assert broken != definition
    namespace: dict[str, Any] = {"__name__": "extending_doc"}
    exec(broken, namespace)

    with pytest.raises(LayerContractError) as error:
        minigrad.check_layer(namespace["Swish"](3), np.random.default_rng(0).normal(size=(2, 3)))

    assert error.value.rule == "backward-checks-shape"
