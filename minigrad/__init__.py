"""minigrad: neural-network layers on numpy, each with an explicit forward and backward."""

from minigrad import finite, init
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
from minigrad.serialization import (
    FORMAT_VERSION,
    SUPPORTED_FORMAT_VERSIONS,
    load,
    read_state_dict,
    save,
)
from minigrad.state import LoadResult

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "SGD",
    "SUPPORTED_FORMAT_VERSIONS",
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
    "LoadResult",
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
    "finite",
    "init",
    "load",
    "read_state_dict",
    "save",
]
