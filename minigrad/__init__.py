"""minigrad: neural-network layers on numpy, each with an explicit forward and backward."""

from minigrad import finite, init
from minigrad._array import Array
from minigrad.activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from minigrad.callbacks import Callback, EarlyStopping, ModelCheckpoint
from minigrad.containers import Sequential
from minigrad.data import DataLoader
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
from minigrad.metrics import accuracy, binary_accuracy
from minigrad.model_summary import summary
from minigrad.module import Module
from minigrad.optim import SGD, Adam, AdamW, Optimizer
from minigrad.parameter import Parameter
from minigrad.plotting import plot_history
from minigrad.serialization import (
    FORMAT_VERSION,
    SUPPORTED_FORMAT_VERSIONS,
    load,
    read_state_dict,
    save,
)
from minigrad.state import LoadResult
from minigrad.trace import trace_step
from minigrad.training import History, evaluate, fit, predict

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
    "Callback",
    "CrossEntropyLoss",
    "DataLoader",
    "Dropout",
    "EarlyStopping",
    "GradientCheckError",
    "GradientCheckReport",
    "History",
    "Identity",
    "L1Loss",
    "LayerContractError",
    "LeakyReLU",
    "Linear",
    "LoadResult",
    "Loss",
    "MSELoss",
    "ModelCheckpoint",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "accuracy",
    "binary_accuracy",
    "check_layer",
    "check_loss",
    "evaluate",
    "finite",
    "fit",
    "init",
    "load",
    "plot_history",
    "predict",
    "read_state_dict",
    "save",
    "summary",
    "trace_step",
]
