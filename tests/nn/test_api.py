"""The public surface of ``sudoless.nn``, pinned so that changes to it are deliberate."""

from __future__ import annotations

import sudoless.nn as nn

PUBLIC = {
    # layers
    "Layer",
    "Dense",
    "Flatten",
    "Masking",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "GELU",
    "Softmax",
    "Embedding",
    "Dropout",
    "LayerNorm",
    "RNN",
    "LSTM",
    "GRU",
    "Bidirectional",
    "Add",
    "Concatenate",
    "register",
    "Conv1D",
    "Conv2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "BatchNormalization",
    "Reshape",
    "Permute",
    # models
    "Network",
    "Sequential",
    "Model",
    "Input",
    "Node",
    "load_model",
    "save_model",
    # ONNX (the onnx extra)
    "export_onnx",
    "load_onnx",
    # losses and metrics
    "Loss",
    "SoftmaxCrossEntropy",
    "CrossEntropy",
    "MeanSquaredError",
    "BinaryCrossEntropy",
    "Metric",
    "Accuracy",
    "Perplexity",
    "Precision",
    "Recall",
    "F1Score",
    "AUC",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    # optimisation
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "Schedule",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    # training
    "Callback",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "CSVLogger",
    "TensorBoard",
    "Loader",
    # BLAS threads
    "set_threads",
}


def test_public_names() -> None:
    assert set(nn.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(nn, name) is not None


def test_every_layer_class_is_registered_for_loading() -> None:
    from sudoless.nn.layers import LAYERS

    layer_classes = {
        name
        for name in PUBLIC
        if isinstance(getattr(nn, name), type)
        and issubclass(getattr(nn, name), nn.Layer)
        and name not in {"Layer", "Network"}
    }
    assert layer_classes <= set(LAYERS)
