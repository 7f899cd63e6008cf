"""Tests of EarlyStopping and ModelCheckpoint with scripted per-epoch values."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

import minigrad
from minigrad import (
    SGD,
    Callback,
    CrossEntropyLoss,
    EarlyStopping,
    Linear,
    ModelCheckpoint,
    Sequential,
    Tanh,
    fit,
)
from minigrad._array import Array


def build_classifier() -> Sequential:
    return Sequential(Linear(3, 5, rng=0), Tanh(), Linear(5, 2, rng=1))


def classification_data() -> tuple[Array, Array]:
    rng = np.random.default_rng(10)
    x = rng.normal(size=(20, 3))
    return x, (x[:, 0] > 0).astype(np.int64)


class Scripted:
    """Metric that returns the next value of a list at each call.

    With one batch per epoch and no validation data, ``fit`` calls it once per epoch, so
    the logs of epoch ``k`` contain ``values[k - 1]``.
    """

    __name__ = "scripted"

    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.calls = 0

    def __call__(self, prediction: Array, target: Array) -> float:
        value = self.values[self.calls]
        self.calls += 1
        return value


class WeightRecorder(Callback):
    """Callback that keeps the weights after each epoch."""

    def __init__(self) -> None:
        self.states: list[dict[str, Array]] = []
        self.model: minigrad.Module | None = None

    def on_train_begin(self, model: minigrad.Module, log_names: tuple[str, ...]) -> None:
        self.model = model

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        assert self.model is not None
        self.states.append(self.model.state_dict())
        return False


def train_scripted(
    values: list[float], callbacks: list[Callback], epochs: int = 20
) -> tuple[Sequential, minigrad.History, WeightRecorder]:
    x, y = classification_data()
    model = build_classifier()
    recorder = WeightRecorder()
    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.2),
        x,
        y,
        epochs=epochs,
        batch_size=len(x),
        metrics=[Scripted(values)],
        callbacks=[recorder, *callbacks],
        progress="off",
    )
    return model, history, recorder


def assert_weights_equal(model: minigrad.Module, state: dict[str, Array]) -> None:
    for name, values in model.state_dict().items():
        np.testing.assert_array_equal(values, state[name], err_msg=name)


def test_early_stopping_stops_after_patience() -> None:
    stopper = EarlyStopping("scripted", patience=2)
    values = [5.0, 4.0, 4.5, 4.2, 3.0, 2.0]

    _, history, _ = train_scripted(values, [stopper])

    # Epoch 2 is the best; epochs 3 and 4 do not improve, so training stops after epoch 4.
    assert history.epoch == [1, 2, 3, 4]
    assert history.history["scripted"] == [5.0, 4.0, 4.5, 4.2]
    assert stopper.stopped_epoch == 4
    assert stopper.best == 4.0
    assert stopper.best_epoch == 2
    assert stopper.wait == 2


def test_early_stopping_patience_one() -> None:
    stopper = EarlyStopping("scripted", patience=1)

    _, history, _ = train_scripted([3.0, 2.0, 2.0, 1.0], [stopper])

    # An equal value is no improvement.
    assert history.epoch == [1, 2, 3]
    assert stopper.stopped_epoch == 3


def test_early_stopping_min_delta() -> None:
    stopper = EarlyStopping("scripted", patience=2, min_delta=0.5)

    _, history, _ = train_scripted([5.0, 4.6, 4.0, 3.8, 3.6, 1.0], [stopper])

    # 4.6 is within 0.5 of 5.0; 4.0 improves on 5.0; 3.8 and 3.6 are within 0.5 of 4.0.
    assert history.epoch == [1, 2, 3, 4, 5]
    assert stopper.best == 4.0
    assert stopper.best_epoch == 3


def test_early_stopping_max_mode_for_accuracy() -> None:
    stopper = EarlyStopping("accuracy", patience=1)

    assert stopper.mode == "max"
    assert EarlyStopping("val_accuracy").mode == "max"
    assert EarlyStopping("val_loss").mode == "min"
    assert EarlyStopping("loss", mode="max").mode == "max"


def test_early_stopping_explicit_max() -> None:
    stopper = EarlyStopping("scripted", patience=1, mode="max")

    _, history, _ = train_scripted([0.5, 0.7, 0.6, 0.9], [stopper])

    assert history.epoch == [1, 2, 3]
    assert stopper.best == 0.7


def test_early_stopping_while_improving() -> None:
    stopper = EarlyStopping("scripted", patience=1)

    _, history, _ = train_scripted([5.0, 4.0, 3.0], [stopper], epochs=3)

    assert history.epoch == [1, 2, 3]
    assert stopper.stopped_epoch is None


def test_early_stopping_restores_best() -> None:
    stopper = EarlyStopping("scripted", patience=2, restore_best_weights=True)

    model, history, recorder = train_scripted([5.0, 3.0, 4.0, 3.5, 1.0], [stopper])

    assert history.epoch == [1, 2, 3, 4]
    assert_weights_equal(model, recorder.states[1])
    assert model.state_dict()["0.weight"].tobytes() != recorder.states[3]["0.weight"].tobytes()


def test_early_stopping_keeps_last_weights() -> None:
    stopper = EarlyStopping("scripted", patience=2)

    model, _, recorder = train_scripted([5.0, 3.0, 4.0, 3.5, 1.0], [stopper])

    assert_weights_equal(model, recorder.states[-1])


def test_early_stopping_logs_decision(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="minigrad.training")
    stopper = EarlyStopping("scripted", patience=2, restore_best_weights=True)

    train_scripted([5.0, 4.0, 4.5, 4.2], [stopper])

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "early stopping after epoch 4: scripted has not improved for 2 epochs. The best "
        "value 4 was at epoch 2",
        "EarlyStopping restored the weights of epoch 2 (scripted 4)",
    ]


def test_early_stopping_nan_is_no_improvement() -> None:
    stopper = EarlyStopping("scripted", patience=1)

    _, history, _ = train_scripted([2.0, float("nan"), 1.0], [stopper])

    assert history.epoch == [1, 2]
    assert stopper.best == 2.0


def test_checkpoint_restores_best_epoch() -> None:
    checkpoint = ModelCheckpoint(monitor="scripted")

    model, history, recorder = train_scripted([5.0, 2.0, 3.0, 2.5, 4.0], [checkpoint], epochs=5)

    assert len(history) == 5
    assert checkpoint.best == 2.0
    assert checkpoint.best_epoch == 2
    assert_weights_equal(model, recorder.states[1])
    assert checkpoint.best_state is not None
    for name, values in checkpoint.best_state.items():
        np.testing.assert_array_equal(values, recorder.states[1][name], err_msg=name)


def test_checkpoint_without_restore() -> None:
    checkpoint = ModelCheckpoint(monitor="scripted", restore_best_weights=False)

    model, _, recorder = train_scripted([5.0, 2.0, 3.0], [checkpoint], epochs=3)

    assert_weights_equal(model, recorder.states[-1])
    assert checkpoint.best_epoch == 2


def test_checkpoint_writes_best_file(tmp_path: Path) -> None:
    path = tmp_path / "best.npz"
    checkpoint = ModelCheckpoint(path, monitor="scripted", restore_best_weights=False)

    _, _, recorder = train_scripted([5.0, 2.0, 3.0, 1.5, 4.0], [checkpoint], epochs=5)

    saved = minigrad.read_state_dict(path)
    assert sorted(saved) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    for name, values in saved.items():
        np.testing.assert_array_equal(values, recorder.states[3][name], err_msg=name)
    restored = build_classifier()
    minigrad.load(restored, path)
    assert_weights_equal(restored, recorder.states[3])


def test_checkpoint_max_mode_for_accuracy() -> None:
    checkpoint = ModelCheckpoint(monitor="val_accuracy")

    assert checkpoint.mode == "max"


def test_checkpoint_missing_folder_raises(tmp_path: Path) -> None:
    x, y = classification_data()
    model = build_classifier()
    before = model.state_dict()
    checkpoint = ModelCheckpoint(tmp_path / "missing" / "best.npz", monitor="loss")

    with pytest.raises(FileNotFoundError, match=r"the folder .*missing' does not exist"):
        fit(
            model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y, callbacks=[checkpoint]
        )

    assert_weights_equal(model, before)


def test_unrecorded_monitor_raises() -> None:
    x, y = classification_data()
    model = build_classifier()
    before = model.state_dict()

    with pytest.raises(ValueError, match=r"fit records loss, accuracy, but not 'val_acc'"):
        fit(
            model,
            CrossEntropyLoss(),
            SGD(model.parameters(), lr=0.1),
            x,
            y,
            metrics=["accuracy"],
            callbacks=[ModelCheckpoint(monitor="val_acc")],
        )

    assert_weights_equal(model, before)


def test_callback_outside_fit_raises() -> None:
    checkpoint = ModelCheckpoint(monitor="loss")

    with pytest.raises(RuntimeError, match=r"on_train_begin was not called"):
        checkpoint.on_epoch_end(1, {"loss": 1.0})


def test_stop_request_runs_every_callback() -> None:
    class StopAfterFirst(Callback):
        def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
            return True

    recorder = WeightRecorder()
    x, y = classification_data()
    model = build_classifier()

    history = fit(
        model,
        CrossEntropyLoss(),
        SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=5,
        callbacks=[StopAfterFirst(), recorder],
        progress="off",
    )

    assert history.epoch == [1]
    assert len(recorder.states) == 1


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: EarlyStopping(patience=0), ValueError, r"patience must be an integer >= 1, got 0"),
        (lambda: EarlyStopping(patience=1.5), ValueError, r"patience must be an integer >= 1"),
        (lambda: EarlyStopping(min_delta=-0.1), ValueError, r"min_delta must be a finite number"),
        (lambda: EarlyStopping(min_delta=float("nan")), ValueError, r"min_delta must be a finite"),
        (lambda: EarlyStopping(mode="up"), ValueError, r"mode must be 'auto', 'min' or 'max'"),
        (lambda: EarlyStopping(monitor=""), TypeError, r"monitor must be the name of a logged"),
        (lambda: EarlyStopping(restore_best_weights=1), TypeError, r"restore_best_weights must"),
        (lambda: ModelCheckpoint(3), TypeError, r"path must be a file path or None, got int"),
        (lambda: ModelCheckpoint(mode="best"), ValueError, r"mode must be 'auto', 'min' or 'max'"),
    ],
)
def test_invalid_callback_arguments(build: object, error: type[Exception], message: str) -> None:
    assert callable(build)
    with pytest.raises(error, match=message):
        build()


def test_callback_reprs() -> None:
    assert repr(EarlyStopping(patience=3)) == (
        "EarlyStopping(monitor='val_loss', patience=3, min_delta=0.0, mode='min', "
        "restore_best_weights=False)"
    )
    assert repr(ModelCheckpoint("best.npz", monitor="val_accuracy")) == (
        "ModelCheckpoint(path='best.npz', monitor='val_accuracy', mode='max', "
        "restore_best_weights=True)"
    )
