"""Tests of fit, evaluate, predict and History against hand-written training loops."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import minigrad
from minigrad import (
    SGD,
    Adam,
    BCEWithLogitsLoss,
    Callback,
    CrossEntropyLoss,
    Dropout,
    Linear,
    MSELoss,
    Sequential,
    Sigmoid,
    Tanh,
    accuracy,
    binary_accuracy,
    evaluate,
    fit,
    predict,
)
from minigrad._array import Array


def snapshot(module: minigrad.Module) -> dict[str, bytes]:
    return {name: parameter.data.tobytes() for name, parameter in module.named_parameters()}


def build_classifier(seed: int = 0) -> Sequential:
    return Sequential(Linear(3, 5, rng=seed), Tanh(), Linear(5, 2, rng=seed + 1))


def classification_data(sample_count: int = 20) -> tuple[Array, Array]:
    rng = np.random.default_rng(10)
    x = rng.normal(size=(sample_count, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def hand_loop_losses(
    model: Sequential,
    x: Array,
    y: Array,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int | None,
) -> list[float]:
    """Train ``model`` with the README's loop and return the mean loss of each epoch."""
    loss_function = CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=lr)
    generator = None if seed is None else np.random.default_rng(seed)
    epoch_losses = []
    for _ in range(epochs):
        order = np.arange(len(x)) if generator is None else generator.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            indices = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_function(model(x[indices]), y[indices])
            model.backward(loss_function.backward())
            optimizer.step()
            total += loss * len(indices)
        epoch_losses.append(total / len(x))
    return epoch_losses


class ModeRecorder(minigrad.Module):
    """Identity layer that records the training flag of every forward."""

    def __init__(self) -> None:
        self.modes: list[bool] = []

    def forward(self, x: Array) -> Array:
        self.modes.append(self.training)
        return np.asarray(x)

    def backward(self, grad_output: Array) -> Array:
        return np.asarray(grad_output)


class LogRecorder(Callback):
    """Callback that keeps each epoch's logs and weights."""

    def __init__(self) -> None:
        self.logs: list[dict[str, float]] = []
        self.states: list[dict[str, Array]] = []
        self.model: minigrad.Module | None = None
        self.log_names: tuple[str, ...] = ()

    def on_train_begin(self, model: minigrad.Module, log_names: tuple[str, ...]) -> None:
        self.model = model
        self.log_names = log_names

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        assert self.model is not None
        self.logs.append(dict(logs))
        self.states.append(self.model.state_dict())
        return False


@pytest.mark.parametrize("seed", [None, 3])
def test_fit_matches_hand_loop(seed: int | None) -> None:
    x, y = classification_data()
    model, reference = build_classifier(), build_classifier()

    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.5),
        x,
        y,
        epochs=3,
        batch_size=6,
        shuffle=seed is not None,
        rng=seed,
        progress="off",
    )
    expected_losses = hand_loop_losses(reference, x, y, epochs=3, batch_size=6, lr=0.5, seed=seed)

    assert snapshot(model) == snapshot(reference)
    assert history.history["loss"] == pytest.approx(expected_losses, rel=1e-14)


def test_fit_reaches_regression_loss() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    model = Linear(3, 1, rng=0)

    history = fit(
        model,
        MSELoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=30,
        batch_size=16,
        rng=0,
        progress="off",
    )

    assert history.history["loss"][-1] < 1e-12
    assert history.history["loss"][0] > 1.0
    np.testing.assert_allclose(model.weight.data, [[1.0, -2.0, 0.5]], atol=1e-6)
    np.testing.assert_allclose(model.bias.data if model.bias else None, [0.3], atol=1e-6)


def test_fit_separates_three_blobs() -> None:
    rng = np.random.default_rng(1)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, 150)
    x = centers[labels] + rng.normal(scale=0.5, size=(150, 2))
    model = Sequential(Linear(2, 8, rng=0), minigrad.ReLU(), Linear(8, 3, rng=1))

    history = fit(
        model,
        CrossEntropyLoss(),
        Adam(model.parameters(), lr=0.05),
        x,
        labels,
        epochs=20,
        batch_size=16,
        rng=0,
        metrics=["accuracy"],
        progress="off",
    )

    assert history.history["loss"][-1] < 0.01
    assert history.history["accuracy"][-1] == 1.0
    assert evaluate(model, CrossEntropyLoss(), x, labels, metrics=["accuracy"])["accuracy"] == 1.0


def test_history_lengths_and_names() -> None:
    x, y = classification_data()
    model = build_classifier()

    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=4,
        batch_size=8,
        rng=0,
        validation_data=(x[:7], y[:7]),
        metrics=["accuracy"],
        progress="off",
    )

    assert len(history) == 4
    assert history.epoch == [1, 2, 3, 4]
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    for name, values in history.history.items():
        assert len(values) == 4, name
        assert all(type(value) is float for value in values), name
    assert repr(history) == (
        "History(epochs=4, names=['loss', 'accuracy', 'val_loss', 'val_accuracy'])"
    )


def test_history_values_match_evaluation() -> None:
    x, y = classification_data(30)
    x_val, y_val = classification_data(12)
    model = build_classifier()
    recorder = LogRecorder()

    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.3),
        x,
        y,
        epochs=3,
        batch_size=7,
        rng=1,
        validation_data=(x_val, y_val),
        metrics=["accuracy"],
        callbacks=[recorder],
        progress="off",
    )

    assert recorder.log_names == ("loss", "accuracy", "val_loss", "val_accuracy")
    for epoch, state in enumerate(recorder.states):
        copy = build_classifier()
        copy.load_state_dict(state)
        expected = evaluate(copy, CrossEntropyLoss(), x_val, y_val, metrics=["accuracy"])
        assert history.history["val_loss"][epoch] == pytest.approx(expected["loss"], rel=1e-12)
        assert history.history["val_accuracy"][epoch] == expected["accuracy"]
        assert recorder.logs[epoch]["val_loss"] == history.history["val_loss"][epoch]


def test_training_metrics_average_batches() -> None:
    x, y = classification_data(10)
    model = build_classifier()
    frozen = build_classifier()
    # lr=0 keeps the weights, so every batch's prediction equals predict() on it.
    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        batch_size=4,
        shuffle=False,
        metrics=["accuracy"],
        progress="off",
    )

    batches = [(x[0:4], y[0:4]), (x[4:8], y[4:8]), (x[8:10], y[8:10])]
    expected = sum(accuracy(predict(frozen, xb), yb) * len(xb) for xb, yb in batches) / 10
    assert history.history["accuracy"][0] == pytest.approx(expected, rel=1e-15)


def test_accuracy_for_logits_uses_zero() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 2))
    y = (x[:, :1] > 0.2).astype(np.float64)
    model = Linear(2, 1, rng=0)
    logits = predict(model, x)

    history = fit(
        model,
        BCEWithLogitsLoss(),
        SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        batch_size=40,
        metrics=["accuracy"],
        progress="off",
    )

    assert history.history["accuracy"][0] == binary_accuracy(logits, y, threshold=0.0)
    assert binary_accuracy(logits, y, threshold=0.0) != binary_accuracy(logits, y)


def test_accuracy_for_sigmoid_uses_half() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 2))
    y = (x[:, :1] > 0.2).astype(np.float64)
    model = Sequential(Linear(2, 1, rng=0), Sigmoid())
    probabilities = predict(model, x)

    history = fit(
        model,
        MSELoss(),
        SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        batch_size=40,
        metrics=["accuracy"],
        progress="off",
    )

    assert history.history["accuracy"][0] == binary_accuracy(probabilities, y)


def test_custom_metric_uses_function_name() -> None:
    x, y = classification_data()
    model = build_classifier()

    def mean_score(prediction: Array, target: Array) -> float:
        return float(np.mean(prediction))

    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=2,
        validation_data=(x, y),
        metrics=[mean_score],
        progress="off",
    )

    assert list(history.history) == ["loss", "mean_score", "val_loss", "val_mean_score"]
    assert history.history["val_mean_score"][-1] == pytest.approx(float(np.mean(predict(model, x))))


def test_fit_uses_train_then_eval_mode() -> None:
    recorder = ModeRecorder()
    model = Sequential(Linear(3, 2, rng=0), recorder)
    x, y = classification_data(8)

    fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=2,
        batch_size=4,
        validation_data=(x, y),
        progress="off",
    )

    # First one sample in evaluation mode, which counts the classes to check the targets.
    # Then per epoch: two training batches, then the validation data in two batches.
    assert recorder.modes == [False, True, True, False, False, True, True, False, False]


def test_fit_restores_each_module_mode() -> None:
    dropout = Dropout(0.5, rng=0)
    model = Sequential(Linear(3, 4, rng=0), dropout, Linear(4, 2, rng=1))
    model.train()
    dropout.eval()
    x, y = classification_data()

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y, progress="off")

    assert model.training is True
    assert model[0].training is True
    assert dropout.training is False


def test_fit_restores_eval_mode() -> None:
    model = build_classifier().eval()
    x, y = classification_data()

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y, progress="off")

    assert [module.training for module in (model, *model)] == [False, False, False, False]


def test_fit_is_reproducible_with_seed() -> None:
    x, y = classification_data()
    results = []
    for seed in (4, 4, 5):
        model = build_classifier()
        fit(
            model,
            CrossEntropyLoss(),
            SGD(model.parameters(), lr=0.5),
            x,
            y,
            epochs=2,
            batch_size=5,
            rng=seed,
            progress="off",
        )
        results.append(snapshot(model))

    assert results[0] == results[1]
    assert results[0] != results[2]


def test_fit_traps_diverging_run() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3))
    target = rng.normal(size=(16, 1))
    model = Sequential(Linear(3, 8, rng=1), Sigmoid(), Linear(8, 1, rng=2))
    recorder = LogRecorder()

    with pytest.raises(FloatingPointError) as caught:
        fit(
            model,
            MSELoss(),
            SGD(model.parameters(), lr=1e3),
            x,
            target,
            epochs=10_000,
            batch_size=16,
            shuffle=False,
            callbacks=[recorder],
            progress="off",
        )

    message = str(caught.value)
    epoch = len(recorder.states) + 1
    assert message.startswith(f"fit, epoch {epoch}, batch 1/1, step {epoch}: ")
    assert "last finite values" in message
    assert isinstance(caught.value.__cause__, FloatingPointError)
    # The failed step changed nothing, so the weights are those after the last epoch.
    assert snapshot(model) == {
        name: values.tobytes() for name, values in recorder.states[-1].items()
    }
    for name, parameter in model.named_parameters():
        assert np.isfinite(parameter.data).all(), name


def test_fit_names_validation_failure() -> None:
    x, y = classification_data()
    x_val = x.copy()
    x_val[3, 1] = np.inf
    model = build_classifier()

    with pytest.raises(FloatingPointError, match=r"^fit, epoch 1, validation: the input x"):
        fit(
            model,
            CrossEntropyLoss(),
            SGD(model.parameters(), lr=0.1),
            x,
            y,
            validation_data=(x_val, y),
            progress="off",
        )


def invalid_fit_arguments() -> list[tuple[dict[str, Any], type[Exception], str]]:
    x, y = classification_data()
    return [
        ({"epochs": 0}, ValueError, r"epochs must be an integer >= 1, got 0"),
        ({"epochs": 2.5}, ValueError, r"epochs must be an integer >= 1, got 2\.5"),
        ({"epochs": True}, ValueError, r"epochs must be an integer >= 1, got True"),
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive integer, got 0"),
        ({"y": y[:-1]}, ValueError, r"x has 20 samples but y has 19"),
        ({"validation_data": (x,)}, TypeError, r"validation_data must be a pair"),
        ({"validation_data": (x, y[:5])}, ValueError, r"x_val has 20 samples but y_val has 5"),
        ({"metrics": ["precision"]}, ValueError, r"unknown metric 'precision'"),
        ({"metrics": "accuracy"}, TypeError, r"got the string 'accuracy'"),
        ({"metrics": [accuracy, accuracy]}, ValueError, r"metric name 'accuracy' is reserved or"),
        ({"metrics": [3]}, TypeError, r"metrics must contain names or functions, got int"),
        ({"callbacks": [object()]}, TypeError, r"callbacks\[0\] must be a Callback"),
        ({"progress": "loud"}, ValueError, r"progress must be 'auto', 'bar', 'log' or 'off'"),
        ({"rng": "seed"}, TypeError, r"rng must be a numpy.random.Generator, an integer seed"),
        (
            {"callbacks": [minigrad.EarlyStopping()]},
            ValueError,
            r"fit records loss, but not 'val_loss'\. Pass validation_data",
        ),
    ]


@pytest.mark.parametrize(("changes", "error", "message"), invalid_fit_arguments())
def test_fit_rejects_invalid_argument(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    x, y = classification_data()
    model = build_classifier()
    before = snapshot(model)
    arguments: dict[str, Any] = {"x": x, "y": y, "progress": "off", **changes}
    x_value, y_value = arguments.pop("x"), arguments.pop("y")

    with pytest.raises(error, match=message):
        optimizer = SGD(model.parameters(), lr=0.1)
        fit(model, CrossEntropyLoss(), optimizer, x_value, y_value, **arguments)

    assert snapshot(model) == before


def test_fit_rejects_foreign_optimizer() -> None:
    x, y = classification_data()
    model, other = build_classifier(), build_classifier(5)

    with pytest.raises(ValueError, match=r"none of the parameters of SGD\(.*belongs to the model"):
        fit(model, CrossEntropyLoss(), SGD(other.parameters(), lr=0.1), x, y, progress="off")


@pytest.mark.parametrize(
    ("position", "message"),
    [
        (0, r"fit: model must be a Module, got list"),
        (1, r"fit: loss_function must be a Loss, got builtin_function_or_method"),
        (2, r"fit: optimizer must be an Optimizer, got str"),
    ],
)
def test_fit_rejects_wrong_types(position: int, message: str) -> None:
    x, y = classification_data()
    model = build_classifier()
    arguments: list[Any] = [model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1)]
    arguments[position] = [[], len, "sgd"][position]

    with pytest.raises(TypeError, match=message):
        fit(*arguments, x, y, progress="off")


def test_log_progress_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="minigrad.training")
    x, y = classification_data()
    model = build_classifier()

    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=2,
        batch_size=6,
        rng=0,
        validation_data=(x[:5], y[:5]),
        metrics=["accuracy"],
        progress="log",
    )

    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == (
        "fit: 2 epochs on 20 samples in 4 batches of up to 6, validating on 5 samples"
    )
    for epoch in (1, 2):
        values = {name: history.history[name][epoch - 1] for name in history.history}
        expected = (
            f"epoch {epoch}/2: loss {values['loss']:.4g}, accuracy {values['accuracy']:.4g}, "
            f"val_loss {values['val_loss']:.4g}, val_accuracy {values['val_accuracy']:.4g} ("
        )
        assert messages[epoch].startswith(expected)
        assert messages[epoch].endswith(" s)")
    assert messages[3] == "fit: finished after 2 of 2 epochs"
    assert len(messages) == 4
    assert all(record.name == "minigrad.training" for record in caplog.records)


def test_progress_off_is_quiet(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    x, y = classification_data()
    model = build_classifier()

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y, epochs=2, progress="off")

    assert caplog.records == []
    assert capsys.readouterr() == ("", "")


def test_auto_progress_logs_off_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="minigrad.training")
    x, y = classification_data()
    model = build_classifier()

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y)

    assert [record.getMessage().split(":")[0] for record in caplog.records] == [
        "fit",
        "epoch 1/1",
        "fit",
    ]


def test_bar_progress_writes_stderr(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    caplog.set_level(logging.INFO, logger="minigrad.training")
    x, y = classification_data()
    model = build_classifier()

    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=2,
        batch_size=6,
        progress="bar",
    )

    error_output = capsys.readouterr().err
    assert "epoch 1/2" in error_output
    assert "epoch 2/2" in error_output
    assert "4/4" in error_output
    assert f"loss {history.history['loss'][-1]:.4g}" in error_output
    assert caplog.records == []


class TerminalOutput(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_progress_bar_on_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    terminal = TerminalOutput()
    monkeypatch.setattr(sys, "stderr", terminal)
    x, y = classification_data()
    model = build_classifier()

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y, batch_size=10)

    assert "epoch 1/1" in terminal.getvalue()
    assert "2/2" in terminal.getvalue()


def test_bar_without_tqdm_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    x, y = classification_data()
    model = build_classifier()
    before = snapshot(model)

    with pytest.raises(ImportError, match=r'pip install tqdm'):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y, progress="bar")

    assert snapshot(model) == before


def test_auto_without_tqdm_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr(sys, "stderr", TerminalOutput())
    caplog.set_level(logging.INFO, logger="minigrad.training")
    x, y = classification_data()
    model = build_classifier()

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y)

    assert caplog.records[1].getMessage().startswith("epoch 1/1: loss ")


def test_evaluate_matches_direct_loss() -> None:
    x, y = classification_data(25)
    model = build_classifier()
    logits = model(x)
    expected_loss = CrossEntropyLoss()(logits, y)

    for batch_size in (None, 1, 4, 25, 100):
        results = evaluate(
            model, CrossEntropyLoss(), x, y, batch_size=batch_size, metrics=["accuracy"]
        )
        assert list(results) == ["loss", "accuracy"]
        assert results["loss"] == pytest.approx(expected_loss, rel=1e-12)
        assert results["accuracy"] == accuracy(logits, y)


def test_evaluate_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match=r"evaluate: x has 4 samples but y has 3"):
        evaluate(build_classifier(), CrossEntropyLoss(), np.zeros((4, 3)), np.zeros(3, dtype=int))


def test_evaluate_rejects_non_loss() -> None:
    with pytest.raises(TypeError, match=r"evaluate: loss_function must be a Loss, got str"):
        evaluate(build_classifier(), "mse", np.zeros((4, 3)), np.zeros(4))  # type: ignore[arg-type]


def test_predict_batches_match_full() -> None:
    x, _ = classification_data(23)
    model = build_classifier()
    full = model(x)

    for batch_size in (1, 5, 23, 50):
        np.testing.assert_allclose(predict(model, x, batch_size=batch_size), full, rtol=1e-13)


def test_predict_uses_eval_mode() -> None:
    dropout = Dropout(0.5, rng=0)
    model = Sequential(Linear(3, 4, rng=0), dropout)
    x, _ = classification_data(6)

    prediction = predict(model, x)

    assert model.training is True
    assert dropout.training is True
    np.testing.assert_array_equal(prediction, model[0](x))


def test_predict_rejects_scalar() -> None:
    with pytest.raises(ValueError, match=r"predict: x must have a first dimension"):
        predict(build_classifier(), np.float64(1.0))


def test_predict_rejects_bad_batch_size() -> None:
    with pytest.raises(ValueError, match=r"predict: batch_size must be a positive integer, got 0"):
        predict(build_classifier(), np.zeros((2, 3)), batch_size=0)


# Arguments that fit checks before the first step


def weights_of(model: Sequential) -> list[Array]:
    return [parameter.data.copy() for parameter in model.parameters()]


@pytest.mark.parametrize(
    ("validation_data", "error", "message"),
    [
        ((np.zeros((5, 7)), np.zeros(5, dtype=np.int64)), ValueError, r"x_val has shape \(5, 7\)"),
        ((np.zeros((5, 3)), np.zeros((5, 2), dtype=np.int64)), ValueError, r"y_val has shape"),
        ((np.zeros((5, 3)), np.zeros(5)), TypeError, r"y_val has dtype float64, but y has"),
        ((np.zeros((5, 3)), np.array([0, 1, 2, 0, 1])), ValueError, r"y_val\[2\] is 2"),
    ],
)
def test_fit_checks_validation_data_first(
    validation_data: tuple[Array, Array], error: type[Exception], message: str
) -> None:
    model = Sequential(Linear(3, 2, rng=0))
    x, y = classification_data()
    before = weights_of(model)

    with pytest.raises(error, match=r"^fit: .*" + message):
        fit(
            model,
            CrossEntropyLoss(),
            SGD(model.parameters(), lr=0.1),
            x,
            y,
            validation_data=validation_data,
            progress="off",
        )

    for weight, weight_before in zip(weights_of(model), before, strict=True):
        np.testing.assert_array_equal(weight, weight_before)


def test_fit_names_bad_training_label() -> None:
    model = Sequential(Linear(3, 2, rng=0))
    x, y = classification_data()
    y[17] = 7
    before = weights_of(model)

    with pytest.raises(ValueError, match=r"^fit: y\[17\] is 7, but the model outputs 2 class"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y, progress="off")

    for weight, weight_before in zip(weights_of(model), before, strict=True):
        np.testing.assert_array_equal(weight, weight_before)


def test_fit_loss_error_names_batch() -> None:
    model = Sequential(Linear(3, 1, rng=0))
    x = np.ones((8, 3))
    y = np.ones((8, 2))  # the loss rejects the shape (N, 2) against the output (N, 1)

    with pytest.raises(ValueError, match=r"^fit, epoch 1, batch 1/2: MSELoss"):
        fit(model, MSELoss(), SGD(model.parameters(), lr=0.1), x, y, batch_size=4, progress="off")


def test_fit_rejects_single_callback_and_metric() -> None:
    model = Sequential(Linear(3, 2, rng=0))
    x, y = classification_data()
    optimizer = SGD(model.parameters(), lr=0.1)

    message = r"got a single EarlyStopping\. Pass callbacks=\[callback\]"
    with pytest.raises(TypeError, match=message):
        fit(
            model,
            CrossEntropyLoss(),
            optimizer,
            x,
            y,
            callbacks=minigrad.EarlyStopping(),  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError, match=r"got the single function 'accuracy'"):
        fit(model, CrossEntropyLoss(), optimizer, x, y, metrics=accuracy)  # type: ignore[arg-type]


class ReturnsLogs(Callback):
    """Callback that returns its logs, a common slip for a stop request."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        return logs  # type: ignore[return-value]


def test_fit_rejects_non_bool_stop_request() -> None:
    model = Sequential(Linear(3, 2, rng=0))
    x, y = classification_data()

    with pytest.raises(TypeError, match=r"ReturnsLogs\.on_epoch_end returned dict"):
        fit(
            model,
            CrossEntropyLoss(),
            SGD(model.parameters(), lr=0.1),
            x,
            y,
            epochs=3,
            callbacks=[ReturnsLogs()],
            progress="off",
        )


def test_accuracy_metric_for_one_hot_mse() -> None:
    model = Sequential(Linear(3, 2, rng=0))
    x, labels = classification_data()
    one_hot = np.eye(2)[labels]
    expected = accuracy(predict(model, x), labels)

    results = evaluate(model, MSELoss(), x, one_hot, metrics=["accuracy"])

    assert results["accuracy"] == expected


def test_accuracy_rejects_out_of_range_class() -> None:
    with pytest.raises(ValueError, match=r"target\[0\] is 5, but the prediction has 2 classes"):
        accuracy(np.zeros((2, 2)), np.array([5, 1]))
    with pytest.raises(ValueError, match=r"target\[1\] is -1"):
        accuracy(np.zeros((2, 2)), np.array([0, -1]))


@pytest.mark.parametrize(
    ("threshold", "error"), [("a", TypeError), (None, TypeError), (float("nan"), ValueError)]
)
def test_binary_accuracy_bad_threshold(threshold: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="threshold must be"):
        binary_accuracy(np.zeros(3), np.zeros(3), threshold=threshold)


def test_history_append_rejects_bad_values() -> None:
    history = minigrad.History()

    with pytest.raises(TypeError, match="epoch must be an integer"):
        history.append("a", {"loss": 1.0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="could not convert"):
        history.append(1, {"loss": "high"})  # type: ignore[dict-item]

    assert len(history) == 0
    assert history.history == {}
