"""Layers: each defines its forward output and its backward input and parameter gradients."""

from sudoless.nn.layers.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, log_softmax, sigmoid, softmax
from sudoless.nn.layers.base import LAYERS, Layer, Node, layer_config, layer_from_config, register
from sudoless.nn.layers.conv import Conv1D, Conv2D
from sudoless.nn.layers.dense import Dense, Flatten, Masking
from sudoless.nn.layers.dropout import Dropout
from sudoless.nn.layers.embedding import Embedding
from sudoless.nn.layers.gru import GRU
from sudoless.nn.layers.lstm import LSTM
from sudoless.nn.layers.merge import Add, Concatenate
from sudoless.nn.layers.normalization import BatchNormalization, LayerNorm
from sudoless.nn.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from sudoless.nn.layers.recurrent import RNN, Recurrent
from sudoless.nn.layers.shape import Permute, Reshape
from sudoless.nn.layers.wrappers import Bidirectional

__all__ = [
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
    "LAYERS",
    "LSTM",
    "RNN",
    "Add",
    "Bidirectional",
    "Concatenate",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Layer",
    "LayerNorm",
    "Node",
    "LeakyReLU",
    "Masking",
    "ReLU",
    "Recurrent",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "layer_config",
    "layer_from_config",
    "log_softmax",
    "register",
    "sigmoid",
    "softmax",
]
