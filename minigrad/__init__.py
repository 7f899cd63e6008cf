"""minigrad: neural-network layers on numpy, each with an explicit forward and backward."""

from minigrad import init
from minigrad._array import Array
from minigrad.activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from minigrad.containers import Sequential
from minigrad.dropout import Dropout
from minigrad.gradcheck import (
    GradientCheckError,
    GradientCheckReport,
    LayerContractError,
    check_layer,
    check_loss,
)
from minigrad.linear import Linear
from minigrad.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    Loss,
    MSELoss,
)
from minigrad.module import Module
from minigrad.optim import SGD, Adam, AdamW, Optimizer
from minigrad.parameter import Parameter

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Array",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "GradientCheckError",
    "GradientCheckReport",
    "Identity",
    "L1Loss",
    "LayerContractError",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "check_layer",
    "check_loss",
    "init",
]
