"""Training in one call: ``fit``, ``evaluate``, ``predict`` and the ``History`` they record.

``fit`` runs the same steps as the hand-written loop in the README, through the
non-finite trap of ``minigrad.finite``, so the first NaN or infinity raises
``FloatingPointError`` that names the epoch, the batch and the layer. It reports progress
with a tqdm bar when tqdm is installed (the ``progress`` extra: ``pip install tqdm``) and
otherwise with lines on the ``logging`` logger ``"minigrad.training"``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from minigrad import finite
from minigrad._array import Array
from minigrad._layers import restore_modes, save_modes
from minigrad.callbacks import Callback
from minigrad.data import DataLoader, check_batch_size, check_same_length
from minigrad.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Loss
from minigrad.metrics import Metric, accuracy, binary_accuracy
from minigrad.module import Module
from minigrad.optim import Optimizer

logger = logging.getLogger("minigrad.training")

Progress = Literal["auto", "bar", "log", "off"]


class History:
    """Per-epoch record of the training and validation results, as returned by ``fit``.

    ``history.history`` maps each name to one value per epoch, in epoch order: ``"loss"``,
    each metric such as ``"accuracy"``, and with validation data ``"val_loss"`` and
    ``"val_accuracy"``. ``history.epoch`` lists the epoch numbers, counted from 1. The
    layout is Keras's, so ``history.history["val_loss"][-1]`` is the last validation loss.
    """

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def append(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Add the results of one epoch; nothing is added if a value is not a number."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise TypeError(f"History.append: epoch must be an integer, got {epoch!r}.")
        values = {name: float(value) for name, value in logs.items()}
        self.epoch.append(int(epoch))
        for name, value in values.items():
            self.history.setdefault(name, []).append(value)

    def __len__(self) -> int:
        """Return the number of recorded epochs."""
        return len(self.epoch)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, names={list(self.history)})"


def fit(
    model: Module,
    loss_function: Loss,
    optimizer: Optimizer,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    metrics: Sequence[str | Metric] = (),
    callbacks: Sequence[Callback] = (),
    progress: Progress = "auto",
) -> History:
    """Train ``model`` on ``(x, y)`` for ``epochs`` passes in mini-batches and return its history.

    Each batch runs the hand-written loop's step through ``minigrad.finite``:
    ``optimizer.zero_grad()``, a checked forward, the loss, a checked backward and a
    checked ``optimizer.step()``. The first NaN or infinite value raises
    ``FloatingPointError`` naming the epoch, the batch, the step (counted from 1 over the
    whole run) and the layer. The parameters keep their last finite values.

    The model is in training mode for the batches and in evaluation mode for the
    validation data, and every module gets back its own mode when ``fit`` returns or
    raises.

    After each epoch, the history records the loss and each metric as means over the
    epoch's batches, weighted by batch size, from the predictions made before each
    update. With ``validation_data`` it also records ``val_loss`` and ``val_<metric>``,
    computed by ``evaluate`` on the whole validation set after the epoch. Then each
    callback's ``on_epoch_end`` runs, and training stops after the epoch if any of them
    returns True.

    Args:
        model: The model to train in place.
        loss_function: The loss, such as ``CrossEntropyLoss()``.
        optimizer: An optimizer over the model's parameters.
        x: Training inputs, one sample per row of the first dimension.
        y: Training targets, with the same length as ``x``.
        epochs: Number of passes over the training data, an integer >= 1.
        batch_size: Samples per batch, a positive integer.
        shuffle: If True (the default), draw a new order of the samples for every epoch
            from ``rng``.
        rng: A ``numpy.random.Generator`` or an integer seed for the shuffling, or None for
            fresh entropy, which makes runs differ.
        validation_data: ``(x_val, y_val)`` to evaluate after each epoch, or None.
        metrics: Names or functions ``metric(prediction, target) -> float``. The name
            ``"accuracy"`` selects ``accuracy`` for ``CrossEntropyLoss``,
            ``binary_accuracy`` with threshold 0 for ``BCEWithLogitsLoss`` (logits), and
            with threshold 0.5 for ``BCELoss``. For other losses it selects ``accuracy``
            when the prediction has shape (N, C) with C > 1 and the target contains
            integer class indices, and ``binary_accuracy`` with threshold 0.5 otherwise.
            A function is recorded under its ``__name__``.
        callbacks: ``Callback`` objects, such as ``EarlyStopping`` and
            ``ModelCheckpoint``, called in order.
        progress: ``"bar"`` for a tqdm progress bar per epoch on standard error, ``"log"``
            for one INFO line per epoch on the logger ``"minigrad.training"``, or ``"off"``
            for neither. ``"auto"``, the default, shows a bar when tqdm is installed and
            standard error is a terminal, and log lines otherwise. Log lines
            appear only where logging is configured, for example with
            ``logging.basicConfig(level=logging.INFO)``.

    Returns:
        The ``History`` of the epochs that ran.

    Raises:
        TypeError, ValueError: An argument is invalid; nothing has run yet.
        ImportError: ``progress="bar"`` without tqdm installed.
        FloatingPointError: A value became NaN or infinite during training.
    """
    _check_trainables(model, loss_function, optimizer)
    _check_epochs(epochs)
    loader = DataLoader(x, y, batch_size, shuffle=shuffle, rng=rng)
    validation = _validation_arrays(validation_data)
    if validation is not None:
        _check_validation_matches(loader, validation)
    named_metrics = _resolve_metrics(metrics, loss_function)
    callback_list = _check_callbacks(callbacks)
    reporter = _create_progress(progress, epochs)
    targets = [("y", loader.y)]
    if validation is not None:
        targets.append(("y_val", validation[1]))
    _check_class_targets(model, loss_function, loader.x, targets)

    names = ["loss", *(name for name, _ in named_metrics)]
    log_names = tuple(names + [f"val_{name}" for name in names] if validation else names)
    for callback in callback_list:
        callback.on_train_begin(model, log_names)

    history = History()
    saved_modes = save_modes(model)
    reporter.start(loader, validation)
    try:
        step = 0
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            model.train()
            logs, step = _train_epoch(
                model, loss_function, optimizer, loader, named_metrics, reporter, epoch, step
            )
            if validation is not None:
                model.eval()
                logs.update(
                    _validate(model, loss_function, validation, named_metrics, batch_size, epoch)
                )
            history.append(epoch, logs)
            reporter.end_epoch(epoch, logs, time.perf_counter() - started)

            stop_requests = [
                _stop_request(callback, callback.on_epoch_end(epoch, logs))
                for callback in callback_list
            ]
            if any(stop_requests):
                break
    finally:
        reporter.close()
        restore_modes(saved_modes)

    for callback in callback_list:
        callback.on_train_end()
    reporter.finish(history)
    return history


def evaluate(
    model: Module,
    loss_function: Loss,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    batch_size: int | None = None,
    metrics: Sequence[str | Metric] = (),
) -> dict[str, float]:
    """Return the loss and metrics of ``model`` on ``(x, y)``, computed in evaluation mode.

    The predictions of all batches are joined, and the loss and each metric are computed
    once on the whole set. Every module gets back its own mode afterwards. A NaN or
    infinite output or loss raises ``FloatingPointError``.

    Args:
        model: The model to evaluate; its parameters are not changed.
        loss_function: The loss, such as ``CrossEntropyLoss()``.
        x: Inputs, one sample per row of the first dimension.
        y: Targets, with the same length as ``x``.
        batch_size: Samples per forward pass, or None for all at once.
        metrics: Names or functions, as for ``fit``.

    Returns:
        ``{"loss": ..., "<metric>": ...}``.
    """
    if not isinstance(loss_function, Loss):
        raise TypeError(
            f"evaluate: loss_function must be a Loss, got {type(loss_function).__name__}. "
            f"Pass an instance such as CrossEntropyLoss()."
        )
    inputs = np.asarray(x)
    targets = np.asarray(y)
    check_same_length("evaluate", inputs, targets)
    named_metrics = _resolve_metrics(metrics, loss_function)

    prediction = _forward_in_batches("evaluate", model, inputs, batch_size, checked=True)
    results = {"loss": finite.compute_loss(loss_function, prediction, targets)}
    for name, metric in named_metrics:
        results[name] = float(metric(prediction, targets))
    return results


def predict(model: Module, x: npt.ArrayLike, *, batch_size: int | None = None) -> Array:
    """Return ``model``'s output for ``x``, computed in evaluation mode.

    Every module gets back its own mode afterwards. Use it between training steps, not
    between a ``forward`` and its ``backward``, because it replaces the layers' caches.

    Args:
        model: The model; its parameters are not changed.
        x: Inputs, one sample per row of the first dimension.
        batch_size: Samples per forward pass, or None for all at once.

    Shape:
        ``x (N, *)`` -> the model's output ``(N, *)``.
    """
    inputs = np.asarray(x)
    if inputs.ndim == 0:
        raise ValueError(
            "predict: x must have a first dimension that counts the samples, got a "
            "0-dimensional array. Pass an array of shape (samples, ...)."
        )
    return _forward_in_batches("predict", model, inputs, batch_size, checked=False)


def _train_epoch(
    model: Module,
    loss_function: Loss,
    optimizer: Optimizer,
    loader: DataLoader,
    named_metrics: list[tuple[str, Metric]],
    reporter: _Progress,
    epoch: int,
    step: int,
) -> tuple[dict[str, float], int]:
    """Run one epoch of checked steps and return the weighted mean results and the step count."""
    totals = dict.fromkeys(["loss", *(name for name, _ in named_metrics)], 0.0)
    sample_count = 0
    reporter.start_epoch(epoch, len(loader))
    for batch_number, (x_batch, y_batch) in enumerate(loader, start=1):
        step += 1
        try:
            optimizer.zero_grad()
            prediction = finite.forward(model, x_batch, step=step)
            loss = finite.compute_loss(loss_function, prediction, y_batch, step=step)
            batch_metrics = {
                name: float(metric(prediction, y_batch)) for name, metric in named_metrics
            }
            finite.backward(model, loss_function.backward(), step=step)
            finite.optimizer_step(optimizer, step=step, model=model)
        except FloatingPointError as error:
            raise FloatingPointError(
                f"fit, epoch {epoch}, batch {batch_number}/{len(loader)}, {error}"
            ) from error
        except (ValueError, TypeError) as error:
            # Positions in the message are within the batch, which shuffling makes random,
            # so the batch is named too.
            raise type(error)(
                f"fit, epoch {epoch}, batch {batch_number}/{len(loader)}: {error}"
            ) from error

        size = len(x_batch)
        sample_count += size
        totals["loss"] += loss * size
        for name, value in batch_metrics.items():
            totals[name] += value * size
        reporter.update(totals["loss"] / sample_count)
    return {name: total / sample_count for name, total in totals.items()}, step


def _validate(
    model: Module,
    loss_function: Loss,
    validation: tuple[Array, Array],
    named_metrics: list[tuple[str, Metric]],
    batch_size: int,
    epoch: int,
) -> dict[str, float]:
    x_val, y_val = validation
    try:
        prediction = _forward_in_batches("fit", model, x_val, batch_size, checked=True)
        results = {"loss": finite.compute_loss(loss_function, prediction, y_val)}
    except FloatingPointError as error:
        raise FloatingPointError(f"fit, epoch {epoch}, validation: {error}") from error
    for name, metric in named_metrics:
        results[name] = float(metric(prediction, y_val))
    return {f"val_{name}": value for name, value in results.items()}


def _forward_in_batches(
    owner: str, model: Module, inputs: Array, batch_size: int | None, *, checked: bool
) -> Array:
    """Run ``model`` on ``inputs`` in evaluation mode, ``batch_size`` samples at a time."""
    if not isinstance(model, Module):
        raise TypeError(
            f"{owner}: model must be a Module, got {type(model).__name__}. Pass a layer or a "
            f"Sequential."
        )
    if batch_size is not None:
        check_batch_size(owner, batch_size)
    size = len(inputs) if batch_size is None else int(batch_size)

    saved_modes = save_modes(model)
    model.eval()
    try:
        outputs = []
        for start in range(0, max(len(inputs), 1), max(size, 1)):
            batch = inputs[start : start + size]
            outputs.append(finite.forward(model, batch) if checked else model.forward(batch))
    finally:
        restore_modes(saved_modes)
    return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


def _check_trainables(model: Module, loss_function: Loss, optimizer: Optimizer) -> None:
    for name, value, kind, example, instance in (
        ("model", model, Module, "a Module", "Sequential(...)"),
        ("loss_function", loss_function, Loss, "a Loss", "CrossEntropyLoss()"),
        ("optimizer", optimizer, Optimizer, "an Optimizer", "Adam(model.parameters())"),
    ):
        if not isinstance(value, kind):
            raise TypeError(
                f"fit: {name} must be {example}, got {type(value).__name__}. "
                f"Pass an instance such as {instance}."
            )
    model_parameters = {id(parameter) for parameter in model.parameters()}
    if not any(id(parameter) in model_parameters for parameter in optimizer.params):
        raise ValueError(
            f"fit: none of the parameters of {optimizer!r} belongs to the model, so training "
            f"would not change it. Create the optimizer from this model, for example "
            f"Adam(model.parameters())."
        )


def _check_epochs(epochs: object) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(
            f"fit: epochs must be an integer >= 1, got {epochs!r}. Pass the number of passes "
            f"over the training data."
        )


def _validation_arrays(validation_data: object) -> tuple[Array, Array] | None:
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError(
            f"fit: validation_data must be a pair (x_val, y_val) or None, got "
            f"{type(validation_data).__name__}. Pass validation_data=(x_val, y_val)."
        )
    x_val, y_val = np.asarray(validation_data[0]), np.asarray(validation_data[1])
    check_same_length("fit: validation_data", x_val, y_val, names=("x_val", "y_val"))
    return x_val, y_val


def _check_validation_matches(loader: DataLoader, validation: tuple[Array, Array]) -> None:
    """Raise before training when the validation arrays cannot match the training arrays."""
    for name, train_array, validation_array in (
        ("x_val", loader.x, validation[0]),
        ("y_val", loader.y, validation[1]),
    ):
        training_name = name[0]
        if validation_array.shape[1:] != train_array.shape[1:]:
            raise ValueError(
                f"fit: validation_data's {name} has shape {validation_array.shape}, but each "
                f"sample of {training_name} has shape {train_array.shape[1:]}, so {name} "
                f"needs shape (samples, {', '.join(map(str, train_array.shape[1:]))}). "
                f"Pass validation arrays laid out like the training arrays."
            )
        train_is_integer = train_array.dtype.kind in "iu"
        if (validation_array.dtype.kind in "iu") != train_is_integer:
            raise TypeError(
                f"fit: validation_data's {name} has dtype {validation_array.dtype}, but "
                f"{training_name} has dtype {train_array.dtype}. Pass integer class indices "
                f"in both, or floats in both."
            )


def _check_class_targets(
    model: Module, loss_function: Loss, x: Array, targets: list[tuple[str, Array]]
) -> None:
    """Raise before training when a cross-entropy target is not a valid class index.

    The number of classes is the size of the model's output for one sample, computed by a
    forward pass in evaluation mode.
    """
    if not isinstance(loss_function, CrossEntropyLoss) or len(x) == 0:
        return
    output = _forward_in_batches("fit", model, x[:1], None, checked=False)
    if output.ndim != 2:
        return  # CrossEntropyLoss reports the shape itself.
    class_count = output.shape[1]
    for name, classes in targets:
        if classes.dtype.kind not in "iu":
            continue  # CrossEntropyLoss reports the dtype itself.
        valid = ((classes >= 0) & (classes < class_count)) | (
            classes == loss_function.ignore_index
        )
        if not np.all(valid):
            index = int(np.argmin(valid))
            raise ValueError(
                f"fit: {name}[{index}] is {int(classes[index])}, but the model outputs "
                f"{class_count} class scores, so targets must be in 0 .. {class_count - 1} "
                f"(or ignore_index={loss_function.ignore_index}). Fix the labels, or give the "
                f"last layer one output per class."
            )


def _stop_request(callback: Callback, result: object) -> bool:
    """Return the stop request that ``on_epoch_end`` returned: True, False or None."""
    if result is None or isinstance(result, (bool, np.bool_)):
        return bool(result)
    raise TypeError(
        f"fit: {type(callback).__name__}.on_epoch_end returned {type(result).__name__}, but "
        f"it must return True to stop training, or False or None to go on."
    )


def _check_callbacks(callbacks: Sequence[Callback]) -> list[Callback]:
    if isinstance(callbacks, Callback):
        raise TypeError(
            f"fit: callbacks must be a list of Callback objects, got a single "
            f"{type(callbacks).__name__}. Pass callbacks=[callback]."
        )
    callback_list = list(callbacks)
    for index, callback in enumerate(callback_list):
        if not isinstance(callback, Callback):
            raise TypeError(
                f"fit: callbacks[{index}] must be a Callback, got {type(callback).__name__}. "
                f"Pass instances such as EarlyStopping(patience=3), or subclass Callback."
            )
    return callback_list


def _resolve_metrics(
    metrics: Sequence[str | Metric], loss_function: Loss
) -> list[tuple[str, Metric]]:
    """Return ``(name, function)`` for each requested metric."""
    if isinstance(metrics, str):
        raise TypeError(
            f"metrics must be a list of names or functions, got the string {metrics!r}. "
            f"Pass metrics=[{metrics!r}]."
        )
    if callable(metrics):
        raise TypeError(
            f"metrics must be a list of names or functions, got the single function "
            f"{getattr(metrics, '__name__', metrics)!r}. Pass metrics=[function]."
        )
    resolved: list[tuple[str, Metric]] = []
    for item in metrics:
        if isinstance(item, str):
            if item != "accuracy":
                raise ValueError(
                    f"unknown metric {item!r}. Use 'accuracy', or pass a function "
                    f"metric(prediction, target) -> float."
                )
            name, function = item, _accuracy_for(loss_function)
        elif callable(item):
            name, function = getattr(item, "__name__", type(item).__name__), item
        else:
            raise TypeError(
                f"metrics must contain names or functions, got {type(item).__name__}. Use "
                f"'accuracy', or a function metric(prediction, target) -> float."
            )
        if name == "loss" or name.startswith("val_") or name in dict(resolved):
            raise ValueError(
                f"metric name {name!r} is reserved or used twice. The history needs a unique "
                f"name per metric, and 'loss' and names starting with 'val_' are reserved. "
                f"Rename the function."
            )
        resolved.append((name, function))
    return resolved


def _accuracy_for(loss_function: Loss) -> Metric:
    if isinstance(loss_function, CrossEntropyLoss):
        return accuracy
    if isinstance(loss_function, BCEWithLogitsLoss):
        return partial(binary_accuracy, threshold=0.0)
    if isinstance(loss_function, BCELoss):
        return binary_accuracy
    return _accuracy_from_shapes


def _accuracy_from_shapes(prediction: Array, target: Array) -> float:
    """Pick class-index or binary accuracy from the shapes and dtype of the arrays."""
    classes = np.asarray(target)
    scores = np.asarray(prediction)
    has_class_scores = scores.ndim == 2 and scores.shape[1] > 1
    has_class_indices = classes.ndim == 1 and classes.dtype.kind in "iu"
    if has_class_scores and has_class_indices:
        return accuracy(scores, classes)
    if has_class_scores and _is_one_hot(classes, scores.shape):
        return accuracy(scores, np.argmax(classes, axis=1))
    return binary_accuracy(scores, classes)


def _is_one_hot(target: Array, shape: tuple[int, ...]) -> bool:
    """Return True if every row of ``target`` is 0 except for a single 1."""
    if target.shape != shape or target.dtype.kind not in "iuf":
        return False
    return bool(np.all((target == 0) | (target == 1)) and np.all(target.sum(axis=1) == 1))


def _create_progress(progress: object, epochs: int) -> _Progress:
    if progress not in ("auto", "bar", "log", "off"):
        raise ValueError(
            f"fit: progress must be 'auto', 'bar', 'log' or 'off', got {progress!r}. Use "
            f"'off' for quiet training."
        )
    if progress == "off":
        return _Progress(epochs)
    if progress == "log":
        return _LogProgress(epochs)

    try:
        from tqdm import tqdm
    except ImportError as error:
        if progress == "bar":
            raise ImportError(
                'fit: progress="bar" needs tqdm, which is not installed. Install it with '
                'pip install tqdm (or pip install -e ".[progress]" in a minigrad checkout), or use '
                'progress="log".'
            ) from error
        return _LogProgress(epochs)
    if progress == "auto" and not sys.stderr.isatty():
        return _LogProgress(epochs)
    return _BarProgress(epochs, tqdm)


class _Progress:
    """Progress report that shows nothing, and the base class of the bar and the log lines."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def start(self, loader: DataLoader, validation: tuple[Array, Array] | None) -> None:
        pass

    def start_epoch(self, epoch: int, batch_count: int) -> None:
        pass

    def update(self, mean_loss: float) -> None:
        pass

    def end_epoch(self, epoch: int, logs: Mapping[str, float], seconds: float) -> None:
        pass

    def close(self) -> None:
        pass

    def finish(self, history: History) -> None:
        pass


class _LogProgress(_Progress):
    """One INFO line on the ``minigrad.training`` logger per epoch."""

    def start(self, loader: DataLoader, validation: tuple[Array, Array] | None) -> None:
        logger.info(
            "fit: %d epochs on %d samples in %d batches of up to %d%s",
            self.epochs,
            len(loader.x),
            len(loader),
            loader.batch_size,
            "" if validation is None else f", validating on {len(validation[0])} samples",
        )

    def end_epoch(self, epoch: int, logs: Mapping[str, float], seconds: float) -> None:
        logger.info("epoch %d/%d: %s (%.2f s)", epoch, self.epochs, _format_logs(logs), seconds)

    def finish(self, history: History) -> None:
        logger.info("fit: finished after %d of %d epochs", len(history), self.epochs)


class _BarProgress(_Progress):
    """A tqdm bar per epoch on standard error, with the running mean loss."""

    def __init__(self, epochs: int, bar_class: Any) -> None:
        super().__init__(epochs)
        self._bar_class = bar_class
        self._bar: Any = None

    def start_epoch(self, epoch: int, batch_count: int) -> None:
        self._bar = self._bar_class(
            total=batch_count, desc=f"epoch {epoch}/{self.epochs}", unit="batch", leave=True
        )

    def update(self, mean_loss: float) -> None:
        self._bar.set_postfix_str(f"loss {mean_loss:.4g}", refresh=False)
        self._bar.update(1)

    def end_epoch(self, epoch: int, logs: Mapping[str, float], seconds: float) -> None:
        self._bar.set_postfix_str(_format_logs(logs))
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _format_logs(logs: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in logs.items())
