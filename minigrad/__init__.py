"""minigrad: neural-network layers on numpy, each with an explicit forward and backward."""

from minigrad._array import Array
from minigrad.activations import Sigmoid
from minigrad.containers import Sequential
from minigrad.gradcheck import (
    GradientCheckError,
    GradientCheckReport,
    LayerContractError,
    check_layer,
    check_loss,
)
from minigrad.linear import Linear
from minigrad.losses import Loss, MSELoss
from minigrad.module import Module
from minigrad.optim import SGD, Optimizer
from minigrad.parameter import Parameter

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Array",
    "GradientCheckError",
    "GradientCheckReport",
    "LayerContractError",
    "Linear",
    "Loss",
    "MSELoss",
    "Module",
    "Optimizer",
    "Parameter",
    "Sequential",
    "Sigmoid",
    "check_layer",
    "check_loss",
]
