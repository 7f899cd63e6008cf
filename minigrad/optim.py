"""Optimizers: update parameters in place from their accumulated gradients.

``SGD``, ``Adam`` and ``AdamW`` apply the update rules of ``torch.optim`` (PyTorch 2.13,
checked in tests/test_optim_torch.py). Each keeps its per-parameter state in numpy arrays of
the parameter's shape and dtype, and saves and restores it with ``state_dict()`` and
``load_state_dict()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from minigrad._array import Array
from minigrad.parameter import Parameter

_STATE_DICT_KEYS = ("type", "hyperparameters", "state")


class Optimizer:
    """Base class of optimizers over a fixed list of parameters.

    ``step()`` updates every parameter's ``data`` in place from its ``grad``;
    ``zero_grad()`` fills every ``grad`` with zeros.

    A subclass describes its update with five hooks:

    - ``_hyperparameters`` returns the current settings.
    - ``_check_hyperparameters`` validates new settings.
    - ``_set_hyperparameters`` stores validated settings.
    - ``_state_names`` names the state arrays that the settings need.
    - ``_compute_update`` returns the new values of a parameter and of its state arrays.

    The base class runs the steps atomically and implements ``state_dict`` and
    ``load_state_dict``. An optimizer without state can override ``step`` alone.

    Args:
        params: The parameters to update, for example ``model.parameters()``. The list must
            not be empty and must not contain the same parameter twice.
    """

    # Hyperparameters that decide which state arrays exist, such as SGD's momentum.
    _structural_hyperparameters: ClassVar[tuple[str, ...]] = ()
    # State arrays that are running averages of squares, so they can never be negative.
    _non_negative_state: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: Iterable[Parameter]) -> None:
        if isinstance(params, Parameter):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameter objects, got "
                f"a single Parameter. Wrap it in a list: [param]."
            )
        try:
            parameters = list(params)
        except TypeError as error:
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameter objects, got "
                f"{type(params).__name__}. Pass model.parameters()."
            ) from error
        if not parameters:
            raise ValueError(
                f"{type(self).__name__}: params is empty, so there is nothing to optimize. "
                f"Pass model.parameters() of a model that has parameters."
            )
        seen: set[int] = set()
        for index, parameter in enumerate(parameters):
            if not isinstance(parameter, Parameter):
                raise TypeError(
                    f"{type(self).__name__}: params[{index}] must be a Parameter, got "
                    f"{type(parameter).__name__}. Pass model.parameters()."
                )
            if id(parameter) in seen:
                raise ValueError(
                    f"{type(self).__name__}: params[{index}] appears more than once, so it "
                    f"would be updated twice per step. Pass each parameter once."
                )
            seen.add(id(parameter))
        self.params: list[Parameter] = parameters
        # Per parameter: the number of steps taken and the state arrays by name.
        self._steps: list[int] = [0] * len(parameters)
        self._state: list[dict[str, Array]] = [{} for _ in parameters]

    def zero_grad(self) -> None:
        """Fill the ``grad`` of every parameter with zeros."""
        for parameter in self.params:
            parameter.zero_grad()

    # Hooks for subclasses.

    def _hyperparameters(self) -> dict[str, Any]:
        """Return the current hyperparameters by name, as saved by ``state_dict``."""
        return {}

    @classmethod
    def _check_hyperparameters(
        cls, owner: str, values: Mapping[str, object], label: str
    ) -> dict[str, Any]:
        """Validate ``values`` and return them converted to Python numbers.

        ``owner`` starts every error message, and ``label.format(name)`` names an entry in
        it, so that the constructor reports ``lr`` and ``load_state_dict`` reports
        ``state_dict['hyperparameters']['lr']``. Raises ``TypeError`` for a value of the wrong
        type and ``ValueError`` for a value outside its range.
        """
        return {}

    def _set_hyperparameters(self, values: Mapping[str, Any]) -> None:
        """Store hyperparameters that ``_check_hyperparameters`` returned."""

    @classmethod
    def _state_names(cls, hyperparameters: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the names of the state arrays that each parameter needs."""
        return ()

    def _compute_update(
        self, parameter: Parameter, state: Mapping[str, Array], step: int
    ) -> tuple[Array, dict[str, Array]]:
        """Return the new ``data`` of ``parameter`` and its new state arrays by name.

        ``step`` counts from 1 at the first update. The method must not write into
        ``parameter`` or ``state``, because the base class commits all results only after
        every parameter's update succeeded.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step().")

    # Shared machinery.

    def _create_state(self) -> None:
        """Allocate the zero-filled state arrays that the current hyperparameters need."""
        names = self._state_names(self._hyperparameters())
        self._state = [
            {name: np.zeros_like(parameter.data) for name in names} for parameter in self.params
        ]

    def step(self) -> None:
        """Update every parameter and its state in place from the current gradients.

        The step is atomic: the new values of every parameter and state array are computed
        first and written only when all of them are finite.

        Raises:
            FloatingPointError: A gradient contains NaN or infinite entries, or the update
                overflowed to NaN or infinite values, for example because the learning rate
                is too large. Nothing changed.
        """
        results: list[tuple[Array, dict[str, Array]]] = []
        for index, parameter in enumerate(self.params):
            non_finite_count = int(np.count_nonzero(~np.isfinite(parameter.grad)))
            if non_finite_count:
                raise FloatingPointError(
                    f"{self!r}: params[{index}].grad contains {non_finite_count} NaN or "
                    f"infinite entries, so step() changed nothing. Check the loss and the "
                    f"layers' backward for an overflow."
                )
            # The results are checked below, so numpy's overflow warnings would only repeat it.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                new_data, new_state = self._compute_update(
                    parameter, self._state[index], self._steps[index] + 1
                )
                # Cast before the check: a float64 update can overflow only in a float32
                # parameter, for example when its state is float64 after Module.to.
                new_data = new_data.astype(parameter.dtype, copy=False)
                new_state = {
                    name: array.astype(self._state[index][name].dtype, copy=False)
                    for name, array in new_state.items()
                }
            for name, array in (("data", new_data), *new_state.items()):
                non_finite_count = int(np.count_nonzero(~np.isfinite(array)))
                if non_finite_count:
                    raise FloatingPointError(
                        f"{self!r}: the update of params[{index}] made {non_finite_count} "
                        f"entries of its {name} NaN or infinite, so step() changed nothing. "
                        f"Lower the learning rate, or raise eps if it is 0."
                    )
            results.append((new_data, new_state))

        for index, (new_data, new_state) in enumerate(results):
            self.params[index].data[...] = new_data
            for name, array in new_state.items():
                self._state[index][name][...] = array
            self._steps[index] += 1

    def state_dict(self) -> dict[str, Any]:
        """Return a copy of the hyperparameters and of each parameter's state.

        The result is a plain dict of strings, numbers, booleans, the pair ``betas`` and numpy
        arrays, so it can be saved without pickling::

            {"type": "SGD",
             "hyperparameters": {"lr": 0.1, "momentum": 0.9, ...},
             "state": {0: {"step": 5, "momentum_buffer": array}, 1: {...}, ...}}

        ``state`` is keyed by each parameter's position in ``params``, as in PyTorch. The
        arrays are copies, so later steps do not change a saved state dict.
        """
        return {
            "type": type(self).__name__,
            "hyperparameters": self._hyperparameters(),
            "state": {
                index: {
                    "step": self._steps[index],
                    **{name: array.copy() for name, array in self._state[index].items()},
                }
                for index in range(len(self.params))
            },
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state from ``state_dict()`` output.

        Every entry is validated before anything changes: the optimizer type, the set of keys
        at each level, one state entry per parameter, each hyperparameter by the
        constructor's rules, each step count, and each array's type, shape, dtype and
        values. The values are then copied into the existing state arrays, so those arrays
        keep their identity. Numbers may also be numpy scalars or 0-d arrays, and ``betas``
        may be any sequence of two numbers, which is what a round trip through ``np.savez``
        returns.

        Raises:
            ValueError: An entry is missing, unknown or invalid. The message names the entry
                with the expected and the actual value. The optimizer is left unchanged.
        """
        hyperparameters, steps, arrays = self._parse_state_dict(state_dict)

        self._set_hyperparameters(hyperparameters)
        for index, step in enumerate(steps):
            self._steps[index] = step
            for name, array in arrays[index].items():
                self._state[index][name][...] = array

    def _parse_state_dict(
        self, state_dict: object
    ) -> tuple[dict[str, Any], list[int], list[dict[str, Array]]]:
        owner = f"{self!r}.load_state_dict"
        expected_type = type(self).__name__
        top_level = _check_keys(owner, "state_dict", state_dict, _STATE_DICT_KEYS)

        saved_type = _unwrap_scalar(top_level["type"])
        if not isinstance(saved_type, str) or saved_type != expected_type:
            raise ValueError(
                f"{owner}: state_dict['type'] is {saved_type!r}, expected {expected_type!r}. "
                f"Load a state dict into an optimizer of the class that saved it."
            )

        hyperparameters = self._parse_hyperparameters(owner, top_level["hyperparameters"])
        names = self._state_names(hyperparameters)

        saved_state = top_level["state"]
        if not isinstance(saved_state, Mapping):
            raise ValueError(
                f"{owner}: state_dict['state'] must be a dict keyed by parameter position, got "
                f"{type(saved_state).__name__}. Pass the dict that state_dict() returned."
            )
        keys = list(saved_state.keys())
        expected_keys = list(range(len(self.params)))
        valid_keys = all(
            isinstance(key, (int, np.integer)) and not isinstance(key, bool) for key in keys
        )
        if not valid_keys or sorted(keys) != expected_keys:
            raise ValueError(
                f"{owner}: state_dict['state'] has the keys {sorted(keys, key=repr)}, expected "
                f"the positions {expected_keys} of this optimizer's {len(self.params)} "
                f"parameters. Save and load with optimizers over the same parameter list."
            )

        steps: list[int] = []
        arrays: list[dict[str, Array]] = []
        for index, parameter in enumerate(self.params):
            entry_label = f"state_dict['state'][{index}]"
            entry = _check_keys(owner, entry_label, saved_state[index], ("step", *names))
            steps.append(_parse_step(owner, f"{entry_label}['step']", entry["step"]))
            arrays.append(
                {
                    name: self._parse_state_array(
                        owner, f"{entry_label}[{name!r}]", entry[name], parameter, name
                    )
                    for name in names
                }
            )
        return hyperparameters, steps, arrays

    def _parse_hyperparameters(self, owner: str, saved: object) -> dict[str, Any]:
        current = self._hyperparameters()
        label = "state_dict['hyperparameters']"
        entries = _check_keys(owner, label, saved, tuple(current))
        values = {name: _unwrap_scalar(value) for name, value in entries.items()}
        try:
            hyperparameters = self._check_hyperparameters(owner, values, label + "['{}']")
        except TypeError as error:
            raise ValueError(str(error)) from error

        # The state arrays exist from construction, so settings that add or remove arrays
        # (SGD's momentum becoming zero, Adam's amsgrad) must match the saved ones.
        if self._state_names(hyperparameters) != self._state_names(current):
            saved_settings = ", ".join(
                f"{name}={hyperparameters[name]!r}" for name in self._structural_hyperparameters
            )
            raise ValueError(
                f"{owner}: the saved hyperparameters ({saved_settings}) need the state arrays "
                f"{list(self._state_names(hyperparameters))}, but this optimizer keeps "
                f"{list(self._state_names(current))}. Create the optimizer with "
                f"{saved_settings} before loading."
            )
        return hyperparameters

    def _parse_state_array(
        self, owner: str, label: str, value: object, parameter: Parameter, name: str
    ) -> Array:
        if not isinstance(value, np.ndarray):
            raise ValueError(
                f"{owner}: {label} must be a numpy array, got {type(value).__name__}. Pass the "
                f"arrays that state_dict() returned."
            )
        if value.shape != parameter.shape or value.dtype != parameter.dtype:
            raise ValueError(
                f"{owner}: {label} has shape {value.shape} and dtype {value.dtype}, expected "
                f"shape {parameter.shape} and dtype {parameter.dtype} like its parameter. "
                f"Load the state dict of an optimizer over the same parameters."
            )
        non_finite_count = int(np.count_nonzero(~np.isfinite(value)))
        if non_finite_count:
            raise ValueError(
                f"{owner}: {label} contains {non_finite_count} NaN or infinite entries, "
                f"expected finite values. The saved state is corrupt."
            )
        if name in self._non_negative_state:
            negative_count = int(np.count_nonzero(value < 0))
            if negative_count:
                raise ValueError(
                    f"{owner}: {label} contains {negative_count} negative entries, expected "
                    f"values >= 0 because it is an average of squares. The saved state is "
                    f"corrupt."
                )
        return value

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self._hyperparameters().items())
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.

    For each parameter ``theta`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g <- g + weight_decay * theta                  if weight_decay != 0
        b <- g                                         at t = 1, if momentum != 0
        b <- momentum * b + (1 - dampening) * g        at t > 1, if momentum != 0
        d <- g + momentum * b   if nesterov, else b    (d <- g if momentum == 0)
        theta <- theta - lr * d

    These are the rules of ``torch.optim.SGD``. They differ from the textbook forms in three
    places:

    - The momentum buffer ``b`` starts as the first gradient itself, without the factor
      ``1 - dampening``, rather than at zero.
    - The learning rate multiplies ``b`` when the step is applied, instead of the common
      textbook form ``v <- momentum * v + lr * g``, ``theta <- theta - v``. Both give the
      same steps while ``lr`` is constant, and differ after ``lr`` changes.
    - Nesterov momentum is written as the step ``g + momentum * b`` from the current point,
      not as a gradient evaluated at the look-ahead point ``theta - momentum * v``.

    Weight decay is the gradient of an L2 penalty ``weight_decay/2 * ||theta||**2`` added to
    the loss, so it also passes through the momentum buffer.

    Args:
        params: The parameters to update, for example ``model.parameters()``.
        lr: Learning rate, a finite number >= 0.
        momentum: Momentum factor, a finite number >= 0. 0 (the default) disables the
            buffer.
        dampening: Factor that scales down new gradients in the buffer, any finite number.
        weight_decay: L2 penalty factor, a finite number >= 0.
        nesterov: Use Nesterov momentum. It requires ``momentum > 0`` and
            ``dampening == 0``.

    State:
        ``momentum_buffer`` per parameter when ``momentum != 0``, with the parameter's shape
        and dtype, and the step count.
    """

    _structural_hyperparameters = ("momentum",)
    _lr: float
    _momentum: float
    _dampening: float
    _weight_decay: float
    _nesterov: bool

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        hyperparameters = self._check_hyperparameters(
            type(self).__name__,
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": dampening,
                "weight_decay": weight_decay,
                "nesterov": nesterov,
            },
            "{}",
        )
        super().__init__(params)
        self._set_hyperparameters(hyperparameters)
        self._create_state()

    @property
    def lr(self) -> float:
        """Learning rate. Assigning a new value validates it, for learning-rate schedules."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_learning_rate(repr(self), "lr", value)

    @property
    def momentum(self) -> float:
        """Momentum factor."""
        return self._momentum

    @property
    def dampening(self) -> float:
        """Dampening of new gradients in the momentum buffer."""
        return self._dampening

    @property
    def weight_decay(self) -> float:
        """L2 penalty factor."""
        return self._weight_decay

    @property
    def nesterov(self) -> bool:
        """Whether the step uses Nesterov momentum."""
        return self._nesterov

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self._lr,
            "momentum": self._momentum,
            "dampening": self._dampening,
            "weight_decay": self._weight_decay,
            "nesterov": self._nesterov,
        }

    @classmethod
    def _check_hyperparameters(
        cls, owner: str, values: Mapping[str, object], label: str
    ) -> dict[str, Any]:
        lr = _check_learning_rate(owner, label.format("lr"), values["lr"])
        momentum = _check_non_negative(
            owner,
            label.format("momentum"),
            values["momentum"],
            "Pass 0 for no momentum or a value such as 0.9.",
        )
        dampening = _check_finite(owner, label.format("dampening"), values["dampening"])
        weight_decay = _check_non_negative(
            owner,
            label.format("weight_decay"),
            values["weight_decay"],
            "Pass 0 for no weight decay or a small value such as 1e-4.",
        )
        nesterov = _check_flag(owner, label.format("nesterov"), values["nesterov"])
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"{owner}: {label.format('nesterov')}=True requires momentum > 0 and "
                f"dampening == 0, got momentum={momentum!r} and dampening={dampening!r}. "
                f"Pass a momentum such as 0.9 with dampening=0, or nesterov=False."
            )
        return {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }

    def _set_hyperparameters(self, values: Mapping[str, Any]) -> None:
        self._lr = values["lr"]
        self._momentum = values["momentum"]
        self._dampening = values["dampening"]
        self._weight_decay = values["weight_decay"]
        self._nesterov = values["nesterov"]

    @classmethod
    def _state_names(cls, hyperparameters: Mapping[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if hyperparameters["momentum"] != 0 else ()

    def step(self) -> None:
        """Update every parameter and its state in place from the current gradients.

        The step is atomic, as described in ``Optimizer.step``. Without momentum and weight
        decay, the update is written straight into each parameter when the norms of the
        parameters and gradients show that no entry can become NaN or infinite. Otherwise,
        and always with momentum or weight decay, the general path computes the new values
        first and checks them. Both paths compute ``theta - lr * g`` with the same rounding.

        Raises:
            FloatingPointError: A gradient contains NaN or infinite entries, or the update
                overflowed to NaN or infinite values. Nothing changed.
        """
        if self._momentum == 0 and self._weight_decay == 0 and self._step_in_place():
            return
        super().step()

    def _step_in_place(self) -> bool:
        """Apply ``theta <- theta - lr * g`` in place if provably finite; return whether it ran."""
        lr = self._lr
        for parameter in self.params:
            if not _update_is_bounded(parameter.data, parameter.grad, lr):
                return False
        for index, parameter in enumerate(self.params):
            _subtract_scaled_in_place(parameter.data, parameter.grad, lr)
            self._steps[index] += 1
        return True

    def _compute_update(
        self, parameter: Parameter, state: Mapping[str, Array], step: int
    ) -> tuple[Array, dict[str, Array]]:
        grad = parameter.grad
        if self._weight_decay != 0:
            grad = grad + self._weight_decay * parameter.data

        new_state: dict[str, Array] = {}
        direction = grad
        if self._momentum != 0:
            if step == 1:
                buffer = grad.copy()
            else:
                buffer = self._momentum * state["momentum_buffer"] + (1 - self._dampening) * grad
            new_state["momentum_buffer"] = buffer
            direction = grad + self._momentum * buffer if self._nesterov else buffer

        new_data: Array = parameter.data - self._lr * direction
        return new_data, new_state


class Adam(Optimizer):
    r"""Adam: steps scaled by running averages of the gradient and of its square.

    For each parameter ``theta`` with gradient ``g`` at step ``t = 1, 2, ...``, with the
    averages ``m`` and ``v`` starting at zero::

        g <- g + weight_decay * theta                  if weight_decay != 0
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v)                         if amsgrad, and then v_max replaces v
        theta <- theta - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    These are the rules of ``torch.optim.Adam``. The factors ``1 - beta1**t`` and
    ``1 - beta2**t`` correct the bias of averages that start at zero, and ``eps`` is added
    to the corrected ``sqrt(v)``. Some texts fold both corrections into the step size and
    add ``eps`` to the uncorrected ``sqrt(v)``, which changes the early steps slightly when
    ``eps`` is not negligible. With ``amsgrad``, PyTorch keeps the maximum of the
    uncorrected ``v`` and corrects that maximum like ``v``.

    ``weight_decay`` here is an L2 penalty added to the gradient, so it is scaled by the
    adaptive denominator like the gradient. ``AdamW`` decouples it from the gradient.

    Args:
        params: The parameters to update, for example ``model.parameters()``.
        lr: Learning rate, a finite number >= 0.
        betas: Decay rates ``(beta1, beta2)`` of the running averages, each in [0, 1).
        eps: Term added to the denominator, a finite number >= 0.
        weight_decay: L2 penalty factor, a finite number >= 0.
        amsgrad: Divide by the running maximum of ``v`` (the AMSGrad variant).

    State:
        ``exp_avg`` (``m``), ``exp_avg_sq`` (``v``) and, with ``amsgrad``, ``max_exp_avg_sq``
        (``v_max``) per parameter, each with the parameter's shape and dtype, and the step
        count ``t``.
    """

    _structural_hyperparameters = ("amsgrad",)
    _non_negative_state = frozenset({"exp_avg_sq", "max_exp_avg_sq"})
    # AdamW sets this to apply weight decay to the parameter instead of the gradient.
    _decoupled_weight_decay: ClassVar[bool] = False
    _lr: float
    _betas: tuple[float, float]
    _eps: float
    _weight_decay: float
    _amsgrad: bool

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        hyperparameters = self._check_hyperparameters(
            type(self).__name__,
            {
                "lr": lr,
                "betas": betas,
                "eps": eps,
                "weight_decay": weight_decay,
                "amsgrad": amsgrad,
            },
            "{}",
        )
        super().__init__(params)
        self._set_hyperparameters(hyperparameters)
        self._create_state()

    @property
    def lr(self) -> float:
        """Learning rate. Assigning a new value validates it, for learning-rate schedules."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_learning_rate(repr(self), "lr", value)

    @property
    def betas(self) -> tuple[float, float]:
        """Decay rates ``(beta1, beta2)`` of the running averages."""
        return self._betas

    @property
    def eps(self) -> float:
        """Term added to the denominator."""
        return self._eps

    @property
    def weight_decay(self) -> float:
        """Weight decay factor: an L2 penalty in ``Adam``, decoupled in ``AdamW``."""
        return self._weight_decay

    @property
    def amsgrad(self) -> bool:
        """Whether the step divides by the running maximum of ``v``."""
        return self._amsgrad

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self._lr,
            "betas": self._betas,
            "eps": self._eps,
            "weight_decay": self._weight_decay,
            "amsgrad": self._amsgrad,
        }

    @classmethod
    def _check_hyperparameters(
        cls, owner: str, values: Mapping[str, object], label: str
    ) -> dict[str, Any]:
        return {
            "lr": _check_learning_rate(owner, label.format("lr"), values["lr"]),
            "betas": _check_betas(owner, label.format("betas"), values["betas"]),
            "eps": _check_non_negative(
                owner, label.format("eps"), values["eps"], "Pass a small value such as 1e-8."
            ),
            "weight_decay": _check_non_negative(
                owner,
                label.format("weight_decay"),
                values["weight_decay"],
                "Pass 0 for no weight decay or a small value such as 1e-2.",
            ),
            "amsgrad": _check_flag(owner, label.format("amsgrad"), values["amsgrad"]),
        }

    def _set_hyperparameters(self, values: Mapping[str, Any]) -> None:
        self._lr = values["lr"]
        self._betas = values["betas"]
        self._eps = values["eps"]
        self._weight_decay = values["weight_decay"]
        self._amsgrad = values["amsgrad"]

    @classmethod
    def _state_names(cls, hyperparameters: Mapping[str, Any]) -> tuple[str, ...]:
        if hyperparameters["amsgrad"]:
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def _compute_update(
        self, parameter: Parameter, state: Mapping[str, Array], step: int
    ) -> tuple[Array, dict[str, Array]]:
        beta1, beta2 = self._betas
        grad = parameter.grad
        data = parameter.data
        if self._weight_decay != 0:
            if self._decoupled_weight_decay:
                data = data * (1 - self._lr * self._weight_decay)
            else:
                grad = grad + self._weight_decay * data

        exp_avg = beta1 * state["exp_avg"] + (1 - beta1) * grad
        exp_avg_sq = beta2 * state["exp_avg_sq"] + (1 - beta2) * (grad * grad)
        new_state = {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
        second_moment = exp_avg_sq
        if self._amsgrad:
            second_moment = np.maximum(state["max_exp_avg_sq"], exp_avg_sq)
            new_state["max_exp_avg_sq"] = second_moment

        step_size = self._lr / (1 - beta1**step)
        denominator = np.sqrt(second_moment) / math.sqrt(1 - beta2**step) + self._eps
        new_data: Array = data - step_size * exp_avg / denominator
        return new_data, new_state


class AdamW(Adam):
    r"""Adam with decoupled weight decay: the parameter shrinks before the Adam step.

    For each parameter ``theta`` with gradient ``g`` at step ``t = 1, 2, ...``::

        theta <- theta * (1 - lr * weight_decay)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v)                         if amsgrad, and then v_max replaces v
        theta <- theta - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    These are the rules of ``torch.optim.AdamW``. The gradient stays free of the penalty,
    so every weight decays at the same rate regardless of its gradient's scale, unlike
    ``Adam(weight_decay=...)``. As in PyTorch, the decay is multiplied by ``lr``, so a
    learning-rate schedule also scales the decay.

    Args:
        params: The parameters to update, for example ``model.parameters()``.
        lr: Learning rate, a finite number >= 0.
        betas: Decay rates ``(beta1, beta2)`` of the running averages, each in [0, 1).
        eps: Term added to the denominator, a finite number >= 0.
        weight_decay: Decoupled weight decay factor, a finite number >= 0. The default
            1e-2 is PyTorch's.
        amsgrad: Divide by the running maximum of ``v`` (the AMSGrad variant).

    State:
        The same as ``Adam``.
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )


# In-place updates run over blocks of this many elements, so that the temporary lr * g stays
# small however large the parameter is.
_UPDATE_BLOCK_SIZE = 1 << 16


def _update_is_bounded(data: Array, grad: Array, lr: float) -> bool:
    """Return True if every entry of ``data - lr * grad`` is provably finite, NaN excluded.

    Each entry satisfies ``|d_i - lr * g_i| <= sqrt(sum(d**2)) + lr * sqrt(sum(g**2))``, and
    a sum of squares is finite only if no entry is NaN or infinite. Half the dtype's maximum
    leaves room for the rounding of the sums. False means only that the bound failed, for
    example because a sum of squares overflowed, and the caller then checks each entry.
    """
    # np.vdot calls BLAS, which sets no numpy floating-point error, so an overflow of a sum
    # gives inf without a warning (checked for numpy 2.4 by tests/test_fast_paths.py).
    bound = math.sqrt(float(np.vdot(data, data))) + lr * math.sqrt(float(np.vdot(grad, grad)))
    return bound <= _HALF_FLOAT_MAX.get(data.dtype, 0.0)


_HALF_FLOAT_MAX = {np.dtype(t): 0.5 * float(np.finfo(t).max) for t in (np.float32, np.float64)}


def _subtract_scaled_in_place(data: Array, grad: Array, lr: float) -> None:
    """Compute ``data -= lr * grad`` with a temporary of at most ``_UPDATE_BLOCK_SIZE`` entries."""
    size = data.size
    if size <= _UPDATE_BLOCK_SIZE or not (data.flags.c_contiguous and grad.flags.c_contiguous):
        data -= lr * grad  # blocks need flat views, which other layouts do not have
        return
    flat_data = data.reshape(-1)
    flat_grad = grad.reshape(-1)
    scaled = np.empty(_UPDATE_BLOCK_SIZE, dtype=data.dtype)
    for start in range(0, size, _UPDATE_BLOCK_SIZE):
        stop = min(start + _UPDATE_BLOCK_SIZE, size)
        block = scaled[: stop - start]
        np.multiply(flat_grad[start:stop], lr, out=block)
        np.subtract(flat_data[start:stop], block, out=flat_data[start:stop])


def _check_finite(owner: str, name: str, value: object) -> float:
    """Convert ``value`` to a finite Python float, raising for booleans and non-numbers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"{owner}: {name} must be a real number, got {value!r} of type "
            f"{type(value).__name__}. Pass an int or a float."
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}. Pass a finite number.")
    return number


def _check_non_negative(owner: str, name: str, value: object, fix: str) -> float:
    number = _check_finite(owner, name, value)
    if number < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {number!r}. {fix}")
    return number


def _check_learning_rate(owner: str, name: str, value: object) -> float:
    return _check_non_negative(owner, name, value, "Pass a positive learning rate such as 0.01.")


def _check_flag(owner: str, name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{owner}: {name} must be True or False, got {value!r} of type "
            f"{type(value).__name__}. Pass a bool."
        )
    return bool(value)


def _check_betas(owner: str, name: str, value: object) -> tuple[float, float]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(
            f"{owner}: {name} must be a pair of numbers (beta1, beta2), got {value!r}. "
            f"Pass values such as (0.9, 0.999)."
        )
    betas: list[float] = []
    for position, beta in enumerate(value):
        number = _check_finite(owner, f"{name}[{position}]", beta)
        if not 0 <= number < 1:
            raise ValueError(
                f"{owner}: {name}[{position}] must be in [0, 1), got {number!r}. "
                f"Pass values such as (0.9, 0.999)."
            )
        betas.append(number)
    return betas[0], betas[1]


def _unwrap_scalar(value: object) -> object:
    """Return the Python value of a 0-d array, as ``np.load`` returns saved scalars."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def _check_keys(
    owner: str, label: str, value: object, expected: tuple[str, ...]
) -> Mapping[str, Any]:
    """Return ``value`` if it is a mapping with exactly the keys ``expected``."""
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{owner}: {label} must be a dict with the keys {list(expected)}, got "
            f"{type(value).__name__}. Pass the dict that state_dict() returned."
        )
    missing = [key for key in expected if key not in value]
    unknown = [key for key in value if key not in expected]
    if missing or unknown:
        raise ValueError(
            f"{owner}: {label} has the keys {list(value)}, expected {list(expected)} "
            f"(missing: {missing}, unknown: {unknown}). Pass the dict that state_dict() "
            f"returned by an optimizer of the same class and settings."
        )
    return value


def _parse_step(owner: str, label: str, value: object) -> int:
    step = _unwrap_scalar(value)
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(
            f"{owner}: {label} must be an integer >= 0, got {value!r}. Pass the step count "
            f"that state_dict() returned."
        )
    return int(step)


__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
