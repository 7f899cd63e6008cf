"""Callbacks that ``fit`` runs after each epoch: early stopping and best-weight checkpoints."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Literal

import numpy as np

from minigrad._array import Array
from minigrad.module import Module
from minigrad.serialization import StrPath, save

logger = logging.getLogger("minigrad.training")

Mode = Literal["auto", "min", "max"]


class Callback:
    """Base class of objects that ``fit`` calls at fixed points of training.

    ``fit`` calls ``on_train_begin`` once before the first epoch, ``on_epoch_end`` after
    each epoch, and ``on_train_end`` once after the last epoch, including an epoch after
    which a callback asked to stop. When training raises, ``on_train_end`` is not called.
    Override the methods you need; the defaults do nothing.

    Epochs are numbered from 1.
    """

    def on_train_begin(self, model: Module, log_names: tuple[str, ...]) -> None:
        """Prepare for training ``model``.

        Args:
            model: The model that ``fit`` trains.
            log_names: The keys that every epoch's ``logs`` will have, such as
                ``("loss", "accuracy", "val_loss", "val_accuracy")``. Raise here, before
                any training, if a key you need is missing.
        """

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Receive the results of an epoch and return True to stop training after it.

        Args:
            epoch: The epoch that ended, counted from 1.
            logs: The epoch's mean training loss and metrics, and the validation values
                under names that start with ``val_``.
        """
        return False

    def on_train_end(self) -> None:
        """Finish after the last epoch."""


class _MonitorCallback(Callback):
    """Common part of callbacks that track the best value of one entry of the logs."""

    def __init__(self, monitor: str, mode: Mode, min_delta: float) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(
                f"{type(self).__name__}: monitor must be the name of a logged value, such as "
                f"'val_loss', got {monitor!r}."
            )
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}. "
                f"Use 'min' for losses and 'max' for accuracies."
            )
        if (
            isinstance(min_delta, bool)
            or not isinstance(min_delta, (int, float, np.integer, np.floating))
            or not math.isfinite(min_delta)
            or min_delta < 0
        ):
            raise ValueError(
                f"{type(self).__name__}: min_delta must be a finite number >= 0, got "
                f"{min_delta!r}. It is the smallest change that counts as an improvement."
            )
        if mode == "auto":
            mode = "max" if monitor.endswith("accuracy") else "min"
        self.monitor = monitor
        self.mode: Literal["min", "max"] = mode
        self.min_delta = float(min_delta)
        self.best: float | None = None
        """Best value of ``monitor`` so far, or None before the first epoch."""
        self.best_epoch: int | None = None
        """Epoch, counted from 1, that reached ``best``."""
        self._model: Module | None = None

    def on_train_begin(self, model: Module, log_names: tuple[str, ...]) -> None:
        if self.monitor not in log_names:
            hint = (
                " Pass validation_data to fit to record it."
                if self.monitor.startswith("val_")
                else ""
            )
            raise ValueError(
                f"{self!r}: fit records {', '.join(log_names)}, but not {self.monitor!r}.{hint} "
                f"Or monitor one of the recorded values."
            )
        self._model = model
        self.best = None
        self.best_epoch = None

    def _improved(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Record the epoch's value and return True if it beats the best by more than min_delta."""
        if self.monitor not in logs:
            raise ValueError(
                f"{self!r}: the logs of epoch {epoch} contain {', '.join(logs)}, but not "
                f"{self.monitor!r}. Monitor one of the recorded values."
            )
        value = float(logs[self.monitor])
        if math.isnan(value):
            return False
        if self.best is not None:
            change = self.best - value if self.mode == "min" else value - self.best
            if change <= self.min_delta:
                return False
        self.best = value
        self.best_epoch = epoch
        return True

    def _trained_model(self) -> Module:
        if self._model is None:
            raise RuntimeError(
                f"{self!r}: on_train_begin was not called. Pass the callback to "
                f"fit(..., callbacks=[...]), which calls it."
            )
        return self._model


class EarlyStopping(_MonitorCallback):
    """Stop training when a logged value has stopped improving.

    After each epoch the value of ``monitor`` is compared with the best value so far. It
    improves when it is lower by more than ``min_delta`` (``mode="min"``) or higher by
    more than ``min_delta`` (``mode="max"``). After the ``patience``-th epoch in a row
    without improvement, ``on_epoch_end`` returns True and ``fit`` stops. With
    ``patience=1`` training stops at the first epoch that does not improve.

    Args:
        monitor: Name of the value to watch, such as ``"val_loss"`` (the default),
            ``"loss"`` or ``"val_accuracy"``.
        patience: Number of epochs in a row without improvement after which training
            stops, an integer >= 1.
        min_delta: Smallest change that counts as an improvement, a number >= 0.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (the default), which picks ``"max"``
            for names that end in ``accuracy`` and ``"min"`` for all others.
        restore_best_weights: If True, load the weights of the best epoch into the model
            when training ends, whether or not it stopped early. The weights are kept in
            memory as a copy of ``model.state_dict()``.

    Attributes ``best``, ``best_epoch`` and ``stopped_epoch`` (None unless this callback
    stopped training) describe the last run.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 1,
        min_delta: float = 0.0,
        mode: Mode = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if (
            isinstance(patience, bool)
            or not isinstance(patience, (int, np.integer))
            or patience < 1
        ):
            raise ValueError(
                f"EarlyStopping: patience must be an integer >= 1, got {patience!r}. It is "
                f"the number of epochs without improvement after which training stops; 1 "
                f"stops at the first such epoch."
            )
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise TypeError(
                f"EarlyStopping: restore_best_weights must be True or False, got "
                f"{restore_best_weights!r}."
            )
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.wait = 0
        """Epochs since the last improvement."""
        self.stopped_epoch: int | None = None
        """Epoch after which this callback stopped training, or None."""
        self._best_state: dict[str, Array] | None = None

    def on_train_begin(self, model: Module, log_names: tuple[str, ...]) -> None:
        super().on_train_begin(model, log_names)
        self.wait = 0
        self.stopped_epoch = None
        self._best_state = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        if self._improved(epoch, logs):
            self.wait = 0
            if self.restore_best_weights:
                self._best_state = self._trained_model().state_dict()
            return False

        self.wait += 1
        if self.wait < self.patience:
            return False
        self.stopped_epoch = epoch
        logger.info(
            "early stopping after epoch %d: %s has not improved for %d epochs. The best "
            "value %.6g was at epoch %s",
            epoch,
            self.monitor,
            self.wait,
            math.nan if self.best is None else self.best,
            self.best_epoch,
        )
        return True

    def on_train_end(self) -> None:
        if self._best_state is not None:
            self._trained_model().load_state_dict(self._best_state)
            logger.info(
                "EarlyStopping restored the weights of epoch %s (%s %.6g)",
                self.best_epoch,
                self.monitor,
                self.best,
            )

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, "
            f"restore_best_weights={self.restore_best_weights})"
        )


class ModelCheckpoint(_MonitorCallback):
    """Keep the weights of the epoch with the best logged value in memory, and in a file if asked.

    After each epoch whose value of ``monitor`` beats the best so far (lower for
    ``mode="min"``, higher for ``mode="max"``), the callback copies ``model.state_dict()``
    and, when ``path`` is given, writes the weights there with ``minigrad.save``, which
    replaces the file atomically. The first epoch always counts as the best so far.

    Args:
        path: File to write the best weights to, or None to keep them in memory only. Its
            folder must exist; ``fit`` raises ``FileNotFoundError`` before the first epoch
            otherwise.
        monitor: Name of the value to compare, such as ``"val_loss"`` (the default) or
            ``"val_accuracy"``.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (the default), which picks ``"max"``
            for names that end in ``accuracy`` and ``"min"`` for all others.
        restore_best_weights: If True (the default), load the best weights into the model
            when training ends, so the model that ``fit`` leaves is the best one.

    Attributes ``best``, ``best_epoch`` and ``best_state`` (the copied weights) describe
    the last run. Load a saved file with ``minigrad.load(model, path)``.
    """

    def __init__(
        self,
        path: StrPath | None = None,
        *,
        monitor: str = "val_loss",
        mode: Mode = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"ModelCheckpoint: path must be a file path or None, got "
                f"{type(path).__name__}. Pass a path such as 'best.npz'."
            )
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise TypeError(
                f"ModelCheckpoint: restore_best_weights must be True or False, got "
                f"{restore_best_weights!r}."
            )
        self.path = path
        self.restore_best_weights = bool(restore_best_weights)
        self.best_state: dict[str, Array] | None = None
        """Copy of the weights of ``best_epoch``, or None before the first epoch."""

    def on_train_begin(self, model: Module, log_names: tuple[str, ...]) -> None:
        if self.path is not None:
            folder = os.path.dirname(os.path.abspath(os.fspath(self.path)))
            if not os.path.isdir(folder):
                raise FileNotFoundError(
                    f"{self!r}: the folder {folder!r} does not exist, so the best weights "
                    f"could not be saved. Create it first, for example with "
                    f"os.makedirs(folder, exist_ok=True)."
                )
        super().on_train_begin(model, log_names)
        self.best_state = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        if self._improved(epoch, logs):
            model = self._trained_model()
            self.best_state = model.state_dict()
            if self.path is not None:
                save(model, self.path)
                logger.debug(
                    "ModelCheckpoint saved epoch %d (%s %.6g) to %s",
                    epoch,
                    self.monitor,
                    self.best,
                    os.fspath(self.path),
                )
        return False

    def on_train_end(self) -> None:
        if self.restore_best_weights and self.best_state is not None:
            self._trained_model().load_state_dict(self.best_state)
            logger.info(
                "ModelCheckpoint restored the weights of epoch %s (%s %.6g)",
                self.best_epoch,
                self.monitor,
                self.best,
            )

    def __repr__(self) -> str:
        return (
            f"ModelCheckpoint(path={self.path!r}, monitor={self.monitor!r}, mode={self.mode!r}, "
            f"restore_best_weights={self.restore_best_weights})"
        )
