"""minigrad: neural-network layers on numpy, each with an explicit forward and backward."""

from minigrad import finite
from minigrad._array import Array
from minigrad.activations import Sigmoid
from minigrad.containers import Sequential
from minigrad.linear import Linear
from minigrad.losses import Loss, MSELoss
from minigrad.module import Module
from minigrad.optim import SGD, Optimizer
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
    "Array",
    "Linear",
    "LoadResult",
    "Loss",
    "MSELoss",
    "Module",
    "Optimizer",
    "Parameter",
    "Sequential",
    "Sigmoid",
    "finite",
    "load",
    "read_state_dict",
    "save",
]
