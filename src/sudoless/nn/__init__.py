"""``sudoless.nn``: neural networks on NumPy alone, for CPUs and for shipping to Spark executors.

Layers each define their forward output and their backward gradients; models (:class:`Sequential`, or the
functional :class:`Model` over :func:`Input` nodes) pack all parameters into one flat vector that the
optimisers update in a few vectorised operations. Training follows Keras: ``compile`` then ``fit`` with
callbacks, ``evaluate``, ``predict``, ``save`` and :func:`load_model`.

::

    from sudoless import nn
    model = nn.Sequential([nn.Dense(64), nn.ReLU(), nn.Dense(10)], seed=0)
    model.compile(nn.Adam(1e-3), "softmax_cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=10, validation_data=(xv, yv), callbacks=[nn.EarlyStopping(patience=3)])
    model.to_onnx("model.onnx")    # or nn.export_onnx(model, path); nn.load_onnx(path) reads one back
"""

from sudoless.nn.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TensorBoard,
)
from sudoless.nn.checkpoints import save_model
from sudoless.nn.functional import Input, Model
from sudoless.nn.layers import (
    GELU,
    GRU,
    LSTM,
    RNN,
    Add,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Bidirectional,
    Concatenate,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Layer,
    LayerNorm,
    LeakyReLU,
    Masking,
    MaxPooling1D,
    MaxPooling2D,
    Node,
    Permute,
    ReLU,
    Reshape,
    Sigmoid,
    Softmax,
    Tanh,
    register,
)
from sudoless.nn.loader import Loader
from sudoless.nn.losses import BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, SoftmaxCrossEntropy
from sudoless.nn.metrics import (
    AUC,
    Accuracy,
    F1Score,
    Metric,
    Perplexity,
    Precision,
    Recall,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from sudoless.nn.model import Network, Sequential, load_model
from sudoless.nn.onnx import export_onnx, load_onnx
from sudoless.nn.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from sudoless.nn.schedules import CosineDecay, ExponentialDecay, Schedule, StepDecay
from sudoless.nn.threads import set_threads

__all__ = [
    "AUC",
    "CSVLogger",
    "F1Score",
    "Loader",
    "Precision",
    "Recall",
    "ReduceLROnPlateau",
    "SparseTopKCategoricalAccuracy",
    "TensorBoard",
    "TopKCategoricalAccuracy",
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Permute",
    "Reshape",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "SGD",
    "Accuracy",
    "Adam",
    "AdamW",
    "Add",
    "Bidirectional",
    "BinaryCrossEntropy",
    "Callback",
    "Concatenate",
    "CosineDecay",
    "CrossEntropy",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Embedding",
    "ExponentialDecay",
    "Flatten",
    "History",
    "Input",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Loss",
    "Masking",
    "MeanSquaredError",
    "Metric",
    "Model",
    "ModelCheckpoint",
    "Network",
    "Node",
    "Optimizer",
    "Perplexity",
    "ProgressBar",
    "RMSprop",
    "ReLU",
    "Schedule",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "StepDecay",
    "Tanh",
    "export_onnx",
    "load_model",
    "load_onnx",
    "register",
    "save_model",
    "set_threads",
]
