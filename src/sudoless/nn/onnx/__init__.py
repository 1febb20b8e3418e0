"""ONNX export and import of sudoless models (needs the ``onnx`` extra: ``pip install 'sudoless[onnx]'``).

:func:`export_onnx` writes every layer ONNX can express (Dense, convolutions, pooling, normalisation, shape
layers, activations, Embedding, RNN/LSTM/GRU and Bidirectional, merges) for models with several inputs,
outputs and shared layers; :func:`load_onnx` reads the same subset back as a functional Model. Either refuses
what it cannot map with one line naming the layer, or the node and its operator.
"""

from sudoless.nn.onnx.reader import from_model_proto, load_onnx
from sudoless.nn.onnx.writer import export_onnx, to_model_proto

__all__ = ["export_onnx", "from_model_proto", "load_onnx", "to_model_proto"]
