"""Export a built sudoless model to an ONNX file (float32), layer by layer.

Each layer class has one emitter that appends ONNX nodes and initializers to the graph being written and
returns the tensor it produced, with the axis order ONNX holds it in (:mod:`~sudoless.nn.onnx.layout`).
Recurrent weights are regrouped into ONNX's gate orders: sudoless's LSTM keeps ``[g, i, f, o]`` (candidate,
input, forget, output) and ONNX wants ``[i, o, f, c]``; sudoless's GRU keeps ``[r, z, n]`` with the reset gate
applied after the recurrent product, which is ONNX's ``[z, r, h]`` with ``linear_before_reset=1``. A layer
ONNX cannot express is refused with one line naming it, before anything is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers import (
    GELU,
    GRU,
    LAYERS,
    LSTM,
    Add,
    BatchNormalization,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    LayerNorm,
    LeakyReLU,
    Masking,
    Permute,
    ReLU,
    Reshape,
    Sigmoid,
    Softmax,
    Tanh,
)
from sudoless.nn.layers.conv import Convolution
from sudoless.nn.layers.pooling import GlobalPooling, Pooling
from sudoless.nn.layers.recurrent import RNN, OutputItem, Recurrent
from sudoless.nn.onnx.layout import TIME_FIRST, Perm, channels_first, compose, identity, inverse

if TYPE_CHECKING:
    from sudoless.nn.functional import Model
    from sudoless.nn.model import Network, Sequential

#: The opset written when none is asked for: LayerNormalization needs 17. A model with GELU needs 20.
DEFAULT_OPSET = 17
MIN_OPSET = 13

#: sudoless gate block -> ONNX gate block, per recurrent layer (see the module docstring).
LSTM_GATES = (1, 3, 2, 0)
GRU_GATES = (1, 0, 2)

Array = np.ndarray


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        from sudoless.extras import install_hint

        raise install_hint("ONNX export and import", "onnx", "onnx") from None
    return onnx


@dataclass(frozen=True)
class Tensor:
    """An ONNX value: its name, the permutation it holds the sudoless array in, the sudoless shape (batch
    excluded) and whether it holds integer ids."""

    name: str
    perm: Perm
    shape: tuple[int | None, ...]
    integer: bool = False

    @property
    def rank(self) -> int:
        return len(self.shape) + 1


class Graph:
    """The nodes and initializers written so far, with unique names."""

    def __init__(self, opset: int) -> None:
        self.onnx = _onnx()
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.used: set[str] = set()
        self.recurrent = False

    def unique(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.used:
            name, k = f"{hint}_{k}", k + 1
        self.used.add(name)
        return name

    def const(self, hint: str, value: Any, dtype: Any = np.float32) -> str:
        name = self.unique(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, hint: str, values: list[int]) -> str:
        return self.const(hint, np.asarray(values, np.int64), np.int64)

    def node(self, op: str, inputs: list[str], hint: str, outputs: int = 1, **attrs: Any) -> list[str]:
        names = [self.unique(f"{hint}_out" if outputs == 1 else f"{hint}_out{k}") for k in range(outputs)]
        node_name = self.unique(f"{hint}/{op}")
        self.nodes.append(self.onnx.helper.make_node(op, inputs, names, name=node_name, **attrs))
        return names

    def transposed(self, t: Tensor, perm: Perm, hint: str) -> Tensor:
        """``t`` held in the order ``perm`` (a Transpose node unless it already is)."""
        if t.perm == perm:
            return t
        (name,) = self.node("Transpose", [t.name], hint, perm=list(compose(inverse(t.perm), perm)))
        return Tensor(name, perm, t.shape, t.integer)

    def native(self, t: Tensor, hint: str) -> Tensor:
        return self.transposed(t, identity(t.rank), hint)


Emitter = Callable[[Graph, Any, Any, str], Tensor]


def _activation(g: Graph, kind: str | None, t: Tensor, hint: str) -> Tensor:
    """The ``activation=`` of a Dense or Conv layer, as the layer of that name would emit it."""
    if kind is None:
        return t
    layers: dict[str, Layer] = {
        "relu": ReLU(),
        "sigmoid": Sigmoid(),
        "tanh": Tanh(),
        "gelu": GELU(),
        "leaky_relu": LeakyReLU(),
        "softmax": Softmax(),
    }
    layer = layers[kind]
    return _elementwise(g, layer, t, f"{hint}_{kind}")


def _elementwise(g: Graph, layer: Layer, t: Tensor, hint: str) -> Tensor:
    if isinstance(layer, Softmax):
        axis = layer.axis % t.rank
        if axis == 0:
            raise InputError(f"ONNX export: layer '{hint}' (Softmax) normalises over the batch axis")
        (name,) = g.node("Softmax", [t.name], hint, axis=t.perm.index(axis))
        return Tensor(name, t.perm, t.shape)
    if isinstance(layer, GELU):
        if g.opset < 20:
            raise InputError(f"ONNX export: layer '{hint}' (GELU) needs opset 20 or later (Gelu), not {g.opset}")
        (name,) = g.node("Gelu", [t.name], hint, approximate="tanh")
        return Tensor(name, t.perm, t.shape)
    if isinstance(layer, LeakyReLU):
        (name,) = g.node("LeakyRelu", [t.name], hint, alpha=layer.alpha)
        return Tensor(name, t.perm, t.shape)
    ops: dict[type[Layer], str] = {ReLU: "Relu", Sigmoid: "Sigmoid", Tanh: "Tanh"}
    op = ops[type(layer)]
    (name,) = g.node(op, [t.name], hint)
    return Tensor(name, t.perm, t.shape)


def _weight(layer: Layer, key: str) -> Array:
    return np.asarray(layer.params[key], np.float32)


def _dense(g: Graph, layer: Dense, t: Tensor, hint: str) -> Tensor:
    t = g.native(t, hint)
    w = g.const(f"{hint}.W", _weight(layer, "W"))
    shape = (*t.shape[:-1], layer.units)
    if t.rank == 2:
        inputs = [t.name, w] + ([g.const(f"{hint}.b", _weight(layer, "b"))] if layer.use_bias else [])
        (name,) = g.node("Gemm", inputs, hint)
    else:
        (name,) = g.node("MatMul", [t.name, w], hint)
        if layer.use_bias:
            (name,) = g.node("Add", [name, g.const(f"{hint}.b", _weight(layer, "b"))], hint)
    return _activation(g, layer.activation, Tensor(name, identity(t.rank), shape), hint)


def same_padding(size: int | None, stride: int, span: int) -> int | None:
    """The total padding ``same`` adds on an axis (sudoless's, TensorFlow's and ONNX's SAME_UPPER rule), or
    None when it depends on a size not known yet."""
    if size is not None:
        return max((-(-size // stride) - 1) * stride + span - size, 0)
    return span - 1 if stride == 1 else None


def _window_attrs(layer: Convolution | Pooling, shape: tuple[int | None, ...]) -> dict[str, Any]:
    """kernel_shape, strides and pads of a window layer over sudoless input ``shape``.

    Pads are explicit wherever they are known: on an axis of known size, and on one of unknown size (a
    variable-length sequence) with stride 1, where ``same`` pads by the window's span whatever the size. Only
    a strided ``same`` window over an unknown size needs ONNX's ``SAME_UPPER``, which places the odd pad at
    the end as sudoless does; onnxruntime refuses it with dilation, so that case is refused here.
    """
    window = layer.window
    start = 1 if layer.rank == 1 else 0  # the 1-D layers are 2-D ones over a height of 1, which ONNX does not see
    sizes = (1, shape[0]) if layer.rank == 1 else (shape[0], shape[1])
    attrs: dict[str, Any] = {"kernel_shape": list(window.size[start:]), "strides": list(window.stride[start:])}
    begin, end = [], []
    for axis in range(start, 2):
        size, stride, span = sizes[axis], window.stride[axis], window.span(axis)
        found = 0 if layer.padding == "valid" else same_padding(size, stride, span)
        if found is None:
            if any(d != 1 for d in window.dilation):
                raise InputError(
                    f"ONNX export: layer '{layer.name}' ({type(layer).__name__}): a strided, dilated window with "
                    "'same' padding over an axis of unknown size has no ONNX form; build the model for a fixed size"
                )
            attrs["auto_pad"] = "SAME_UPPER"
            return attrs
        begin.append(found // 2)
        end.append(found - found // 2)
    attrs["pads"] = begin + end
    return attrs


def _convolution(g: Graph, layer: Convolution, t: Tensor, hint: str) -> Tensor:
    t = g.transposed(t, channels_first(t.rank), hint)
    kernel = _weight(layer, "W")
    # sudoless (k_h, k_w, C/groups, filters) or (k, C/groups, filters) -> ONNX (filters, C/groups, k_h, k_w)
    order = (2, 1, 0) if layer.rank == 1 else (3, 2, 0, 1)
    inputs = [t.name, g.const(f"{hint}.W", kernel.transpose(order))]
    if layer.use_bias:
        inputs.append(g.const(f"{hint}.b", _weight(layer, "b")))
    attrs = _window_attrs(layer, t.shape)
    attrs["dilations"] = list(layer.window.dilation[1:] if layer.rank == 1 else layer.window.dilation)
    (name,) = g.node("Conv", inputs, hint, group=layer.groups, **attrs)
    out = Tensor(name, t.perm, layer.output_shape(t.shape))
    return _activation(g, layer.activation, out, hint)


def _pooling(g: Graph, layer: Pooling, t: Tensor, hint: str) -> Tensor:
    t = g.transposed(t, channels_first(t.rank), hint)
    attrs = _window_attrs(layer, t.shape)
    if layer.kind == "max":
        (name,) = g.node("MaxPool", [t.name], hint, **attrs)
    else:
        (name,) = g.node("AveragePool", [t.name], hint, count_include_pad=0, **attrs)
    return Tensor(name, t.perm, layer.output_shape(t.shape))


def _global_pooling(g: Graph, layer: GlobalPooling, t: Tensor, hint: str) -> Tensor:
    t = g.transposed(t, channels_first(t.rank), hint)
    op = "GlobalMaxPool" if layer.kind == "max" else "GlobalAveragePool"
    (name,) = g.node(op, [t.name], hint)
    (name,) = g.node("Flatten", [name], hint, axis=1)
    return Tensor(name, (0, 1), layer.output_shape(t.shape))


def _batch_norm(g: Graph, layer: BatchNormalization, t: Tensor, hint: str) -> Tensor:
    if t.perm[1] != t.rank - 1:
        t = g.transposed(t, channels_first(t.rank), hint)
    inputs = [
        t.name,
        g.const(f"{hint}.gamma", _weight(layer, "gamma")),
        g.const(f"{hint}.beta", _weight(layer, "beta")),
        g.const(f"{hint}.moving_mean", np.asarray(layer.state["moving_mean"], np.float32)),
        g.const(f"{hint}.moving_variance", np.asarray(layer.state["moving_variance"], np.float32)),
    ]
    (name,) = g.node("BatchNormalization", inputs, hint, epsilon=layer.epsilon, momentum=layer.momentum)
    return Tensor(name, t.perm, t.shape)


def _layer_norm(g: Graph, layer: LayerNorm, t: Tensor, hint: str) -> Tensor:
    if g.opset < 17:
        raise InputError(
            f"ONNX export: layer '{hint}' (LayerNorm) needs opset 17 or later (LayerNormalization), not {g.opset}"
        )
    if t.perm[-1] != t.rank - 1:
        t = g.native(t, hint)
    inputs = [
        t.name,
        g.const(f"{hint}.gamma", _weight(layer, "gamma")),
        g.const(f"{hint}.beta", _weight(layer, "beta")),
    ]
    (name,) = g.node("LayerNormalization", inputs, hint, axis=-1, epsilon=layer.epsilon)
    return Tensor(name, t.perm, t.shape)


def _flatten(g: Graph, layer: Flatten, t: Tensor, hint: str) -> Tensor:
    t = g.native(t, hint)
    (name,) = g.node("Flatten", [t.name], hint, axis=1)
    return Tensor(name, (0, 1), layer.output_shape(t.shape))


def _reshape(g: Graph, layer: Reshape, t: Tensor, hint: str) -> Tensor:
    t = g.native(t, hint)
    shape = layer.output_shape(t.shape)
    (name,) = g.node("Reshape", [t.name, g.ints(f"{hint}.shape", [0, *layer.target_shape])], hint)
    return Tensor(name, identity(len(shape) + 1), shape)


def _permute(g: Graph, layer: Permute, t: Tensor, hint: str) -> Tensor:
    # No node: the values stay where they are, only the order sudoless reads them in changes.
    order = (0, *layer.dims)
    return Tensor(t.name, compose(inverse(order), t.perm), layer.output_shape(t.shape), t.integer)


def _dropout(g: Graph, layer: Dropout, t: Tensor, hint: str) -> Tensor:
    (name,) = g.node("Dropout", [t.name, g.const(f"{hint}.ratio", layer.rate)], hint)
    return Tensor(name, t.perm, t.shape, t.integer)


def _masking(g: Graph, layer: Masking, t: Tensor, hint: str) -> Tensor:
    if g.recurrent:
        raise InputError(
            f"ONNX export: layer '{hint}' (Masking) masks time steps of a recurrent layer, which ONNX cannot "
            "express; remove it or pad at the end and export without it"
        )
    return t


def _embedding(g: Graph, layer: Embedding, t: Tensor, hint: str) -> Tensor:
    if layer.mask_zero and g.recurrent:
        raise InputError(
            f"ONNX export: layer '{hint}' (Embedding with mask_zero) masks time steps of a recurrent layer, "
            "which ONNX cannot express"
        )
    t = g.native(t, hint)
    ids = t.name
    if not t.integer:
        (ids,) = g.node("Cast", [ids], hint, to=g.onnx.TensorProto.INT64)
    (name,) = g.node("Gather", [g.const(f"{hint}.W", _weight(layer, "W")), ids], hint, axis=0)
    return Tensor(name, identity(t.rank + 1), layer.output_shape(t.shape))


def _merge(g: Graph, layer: Layer, ts: list[Tensor], hint: str) -> Tensor:
    perm = ts[0].perm
    ts = [g.transposed(t, perm, f"{hint}_{k}") for k, t in enumerate(ts)]
    names = [t.name for t in ts]
    shape = layer.output_shape([t.shape for t in ts])
    if isinstance(layer, Concatenate):
        (name,) = g.node("Concat", names, hint, axis=perm.index(len(perm) - 1))
    else:
        (name,) = g.node("Add" if len(names) == 2 else "Sum", names, hint)
    return Tensor(name, perm, shape)


def _gate_blocks(matrix: Array, gates: tuple[int, ...], units: int) -> Array:
    """``matrix`` (..., k·units) with its gate blocks in ``gates`` order, transposed to ONNX's (k·units, ...)."""
    blocks = [matrix[..., k * units : (k + 1) * units] for k in gates]
    return np.concatenate(blocks, axis=-1).T


def _recurrent_weights(layer: Recurrent) -> tuple[Array, Array, Array]:
    """One direction's W (gates·H, D), R (gates·H, H) and B (2·gates·H) in ONNX's layout."""
    h = layer.units
    w, u, b = _weight(layer, "W"), _weight(layer, "U"), _weight(layer, "b")
    if isinstance(layer, LSTM):
        gates: tuple[int, ...] = LSTM_GATES
        rb = np.zeros_like(b)
    elif isinstance(layer, GRU):
        gates = GRU_GATES
        rb = _gate_blocks(_weight(layer, "c"), gates, h)
    else:
        gates = (0,)
        rb = np.zeros_like(b)
    return _gate_blocks(w, gates, h), _gate_blocks(u, gates, h), np.concatenate([_gate_blocks(b, gates, h), rb])


def _recurrent_op(layer: Recurrent) -> tuple[str, dict[str, Any]]:
    if isinstance(layer, LSTM):
        return "LSTM", {}
    if isinstance(layer, GRU):
        return "GRU", {"linear_before_reset": 1}
    if isinstance(layer, RNN):
        return "RNN", {}
    raise InputError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) has no ONNX operator")


def _initial_states(g: Graph, given: list[Tensor], cells: int, per_cell: int, hint: str) -> list[str]:
    """ONNX's ``initial_h`` (and ``initial_c``), ``(directions, B, H)``, from the state nodes a functional call
    was given: each cell's states in order (h, then c), the forward cell's before the backward one's."""
    names = []
    for k in range(per_cell):
        parts = []
        for cell in range(cells):
            state = g.native(given[cell * per_cell + k], hint)
            parts.append(g.node("Unsqueeze", [state.name, g.ints(f"{hint}.axes", [0])], hint)[0])
        names.append(parts[0] if cells == 1 else g.node("Concat", parts, hint, axis=0)[0])
    return names


def _final_states(g: Graph, finals: list[str], cells: int, hint: str, h: int) -> list[Tensor]:
    """The final states ``Y_h`` (and ``Y_c``), ``(directions, B, H)``, as the functional call's state outputs."""
    by_cell: list[list[Tensor]] = [[] for _ in range(cells)]
    for final in finals:
        halves = [final] if cells == 1 else g.node("Split", [final, g.ints(f"{hint}.split", [1, 1])], hint, 2, axis=0)
        for cell, half in enumerate(halves):
            (name,) = g.node("Squeeze", [half, g.ints(f"{hint}.axes", [0])], hint)
            by_cell[cell].append(Tensor(name, (0, 1), (h,)))
    return [state for cell in by_cell for state in cell]


def _recurrent(g: Graph, layer: Recurrent | Bidirectional, given: Tensor | list[Tensor], hint: str) -> Any:
    """RNN, LSTM, GRU or a Bidirectional wrapper as one ONNX recurrent node on time-major input.

    A functional call given initial states passes them as ``initial_h`` (``initial_c``); with ``return_state``
    the result is ``[output, *final states]``, as sudoless's call gives it."""
    cells: list[Recurrent] = (
        [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
    )
    first = cells[0]
    if isinstance(layer, Bidirectional):
        direction = "bidirectional"
    else:
        direction = "reverse" if first.reverse else "forward"
    op, attrs = _recurrent_op(first)
    t, states = (given[0], given[1:]) if isinstance(given, list) else (given, [])
    t = g.transposed(t, TIME_FIRST, hint)
    weights = [_recurrent_weights(cell) for cell in cells]
    w, r, b = (np.stack([part[k] for part in weights]) for k in range(3))
    inputs = [t.name, g.const(f"{hint}.W", w), g.const(f"{hint}.R", r), g.const(f"{hint}.B", b)]
    if states:
        inputs += ["", *_initial_states(g, states, len(cells), first.state_count, hint)]
    outputs = 2 + (first.state_count - 1 if first.return_state else 0)
    y, y_h, *y_c = g.node(op, inputs, hint, outputs=outputs, hidden_size=first.units, direction=direction, **attrs)
    out = _recurrent_output(g, layer, first, y, y_h, t.shape[0], hint)
    if not first.return_state:
        return out
    return [out, *_final_states(g, [y_h, *y_c], len(cells), hint, first.units)]


def _recurrent_output(
    g: Graph, layer: Layer, first: Recurrent, y: str, y_h: str, steps: int | None, hint: str
) -> Tensor:
    seq = first.return_sequences
    h = first.units
    merge = layer.merge_mode if isinstance(layer, Bidirectional) else None
    # Y is (T, directions, B, H); Y_h is (directions, B, H).
    source, dir_axis = (y, 1) if seq else (y_h, 0)
    perm = TIME_FIRST if seq else (0, 1)
    if merge is None:
        (name,) = g.node("Squeeze", [source, g.ints(f"{hint}.axes", [dir_axis])], hint)
        return Tensor(name, perm, (steps, h) if seq else (h,))
    if merge == "concat":
        if seq:
            (name,) = g.node("Transpose", [source], hint, perm=[0, 2, 1, 3])
            (name,) = g.node("Reshape", [name, g.ints(f"{hint}.shape", [0, 0, -1])], hint)
        else:
            (name,) = g.node("Transpose", [source], hint, perm=[1, 0, 2])
            (name,) = g.node("Reshape", [name, g.ints(f"{hint}.shape", [0, -1])], hint)
        return Tensor(name, perm, (steps, 2 * h) if seq else (2 * h,))
    halves = g.node("Split", [source, g.ints(f"{hint}.split", [1, 1])], hint, outputs=2, axis=dir_axis)
    a, bwd = (g.node("Squeeze", [half, g.ints(f"{hint}.axes", [dir_axis])], hint)[0] for half in halves)
    if merge == "mul":
        (name,) = g.node("Mul", [a, bwd], hint)
    else:
        (name,) = g.node("Add", [a, bwd], hint)
        if merge == "ave":
            (name,) = g.node("Mul", [name, g.const(f"{hint}.half", 0.5)], hint)
    return Tensor(name, perm, (steps, h) if seq else (h,))


def _output_item(g: Graph, layer: OutputItem, results: list[Tensor], hint: str) -> Tensor:
    """One output of a call with several (a recurrent layer's output or one of its final states)."""
    return results[layer.index]


EMITTERS: list[tuple[type[Layer], Emitter]] = [
    (Dense, _dense),
    (Convolution, _convolution),
    (Pooling, _pooling),
    (GlobalPooling, _global_pooling),
    (BatchNormalization, _batch_norm),
    (LayerNorm, _layer_norm),
    (Flatten, _flatten),
    (Reshape, _reshape),
    (Permute, _permute),
    (Dropout, _dropout),
    (Masking, _masking),
    (Embedding, _embedding),
    (Add, _merge),
    (Concatenate, _merge),
    (OutputItem, _output_item),
    (Bidirectional, _recurrent),
    (Recurrent, _recurrent),
    (ReLU, _elementwise),
    (Sigmoid, _elementwise),
    (Tanh, _elementwise),
    (LeakyReLU, _elementwise),
    (GELU, _elementwise),
    (Softmax, _elementwise),
]


def _emitter(layer: Layer) -> Emitter:
    for cls, emit in EMITTERS:
        if isinstance(layer, cls):
            return emit
    raise InputError(
        f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) has no ONNX equivalent; "
        "docs/onnx.md lists the layers it can write"
    )


def _is_sequential(layer: Layer) -> TypeGuard[Sequential]:
    # The model classes are found through the layer registry: sudoless.nn.model imports this module (to_onnx),
    # so importing it back would make a cycle.
    return isinstance(layer, LAYERS["Sequential"])


def _is_graph(layer: Layer) -> TypeGuard[Model]:
    return "Model" in LAYERS and isinstance(layer, LAYERS["Model"])


def _emit(g: Graph, layer: Layer, inputs: Any) -> Tensor:
    """The tensor ``layer`` computes from ``inputs`` (a list for a merge layer); nested models recurse."""
    if _is_sequential(layer):
        for inner in layer.layers:
            inputs = _emit(g, inner, inputs)
        return inputs
    if _is_graph(layer):
        result = _emit_graph(g, layer, inputs if layer.multi_input else [inputs])
        if len(result) > 1:
            raise InputError(f"ONNX export: the nested model '{layer.name}' has several outputs")
        return result[0]
    return _emitter(layer)(g, layer, inputs, str(layer.name))


def _emit_graph(g: Graph, model: Any, inputs: list[Tensor]) -> list[Tensor]:
    values: dict[int, Tensor] = {id(node): t for node, t in zip(model.inputs, inputs, strict=True)}
    for node in model.layer_nodes:
        parents = [values[id(p)] for p in node.inbound]
        values[id(node)] = _emit(g, node.layer, parents if node.multi else parents[0])
    return [values[id(o)] for o in model.outputs]


def _all_layers(layer: Layer) -> list[Layer]:
    found = [layer]
    for sub in layer.sublayers():
        found.extend(_all_layers(sub))
    return found


def _input_specs(model: Network) -> list[tuple[str, tuple[int | None, ...]]]:
    if _is_graph(model):
        names = [
            node.name or (f"input_{k}" if len(model.inputs) > 1 else "input") for k, node in enumerate(model.inputs)
        ]
        return [(name, tuple(node.shape)) for name, node in zip(names, model.inputs, strict=True)]
    return [("input", tuple(model.input_shape))]


def _integer_inputs(model: Network, count: int) -> list[bool]:
    """Which inputs feed only Embedding layers, and so are written as int64 ids."""
    if _is_graph(model):
        consumers: list[list[Layer]] = [[] for _ in range(count)]
        for node in model.layer_nodes:
            for parent in node.inbound:
                for k, inp in enumerate(model.inputs):
                    if parent is inp and node.layer is not None:
                        consumers[k].append(node.layer)
        return [bool(c) and all(isinstance(layer, Embedding) for layer in c) for c in consumers]
    first = model.layers[0] if _is_sequential(model) and model.layers else None
    return [isinstance(first, Embedding)]


def _value_info(g: Graph, name: str, shape: tuple[int | None, ...], integer: bool, batch: str = "batch") -> Any:
    dims: list[Any] = [batch, *[d if d is not None else f"{name}_dim{k + 1}" for k, d in enumerate(shape)]]
    elem = g.onnx.TensorProto.INT64 if integer else g.onnx.TensorProto.FLOAT
    return g.onnx.helper.make_tensor_value_info(name, elem, dims)


def to_model_proto(model: Network, opset: int | None = None) -> Any:
    """The ONNX ModelProto of a built ``model``; raises InputError naming the first layer ONNX cannot express."""
    if not model.built:
        raise InputError("build or train the model before exporting it to ONNX")
    onnx = _onnx()
    layers = _all_layers(model)
    needed = (
        20
        if any(isinstance(layer, GELU) or getattr(layer, "activation", None) == "gelu" for layer in layers)
        else DEFAULT_OPSET
    )
    newest = int(onnx.defs.onnx_opset_version())
    chosen = needed if opset is None else int(opset)
    if not MIN_OPSET <= chosen <= newest:
        raise InputError(f"ONNX export: opset {chosen} is not supported; choose one from {MIN_OPSET} to {newest}")
    g = Graph(chosen)
    g.recurrent = any(isinstance(layer, Recurrent) for layer in layers)
    specs = _input_specs(model)
    integer = _integer_inputs(model, len(specs))
    inputs = []
    for (name, shape), is_int in zip(specs, integer, strict=True):
        g.used.add(name)
        inputs.append(Tensor(name, identity(len(shape) + 1), shape, is_int))
    if _is_graph(model):
        results = _emit_graph(g, model, inputs)
        names = model.output_names or ["output"]
    else:
        results = [_emit(g, model, inputs[0])]
        names = ["output"]
    outputs = []
    for t, name in zip(results, names, strict=True):
        t = g.native(t, name)
        g.nodes.append(onnx.helper.make_node("Identity", [t.name], [g.unique(name)], name=g.unique(f"{name}/Identity")))
        outputs.append(_value_info(g, g.nodes[-1].output[0], t.shape, False))
    graph = onnx.helper.make_graph(
        g.nodes,
        str(model.name or type(model).__name__.lower()),
        [_value_info(g, t.name, t.shape, t.integer) for t in inputs],
        outputs,
        g.initializers,
    )
    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", chosen)], producer_name="sudoless.nn"
    )
    proto.ir_version = min(proto.ir_version, _ir_version(onnx, chosen))
    onnx.checker.check_model(proto)
    return proto


def _ir_version(onnx: Any, opset: int) -> int:
    """The IR version that goes with ``opset`` (so that older runtimes read the file)."""
    for entry in onnx.helper.VERSION_TABLE:
        if entry[2] == opset:
            return int(entry[1])
    return int(onnx.IR_VERSION)


def export_onnx(model: Network, path: str | Path, opset: int | None = None) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (float32); the file appears whole or not at all.

    ``opset`` defaults to 17 (20 when the model uses GELU). Images and sequences keep sudoless's channels-last,
    batch-first shapes at the graph's inputs and outputs; Transpose nodes inside turn them into the layouts
    the ONNX operators need.
    """
    proto = to_model_proto(model, opset)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(proto.SerializeToString())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
