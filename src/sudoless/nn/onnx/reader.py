"""Import an ONNX file as a sudoless functional :class:`~sudoless.nn.functional.Model`.

The graph is read node by node; each node becomes a sudoless layer (or none: a Transpose only changes the
order the next layer reads in, an Identity or Cast passes its input on). Every ONNX tensor is held as a
sudoless graph node plus the permutation ONNX holds it in (:mod:`~sudoless.nn.onnx.layout`), so a Conv
reading channels-first data needs no Permute layer when the exporter put a Transpose before it, and a Permute
layer appears only where an ONNX model's order differs from what the next sudoless layer reads.

A recurrent node's outputs carry an extra directions axis that no sudoless layer has; they are held as a
pending recurrent layer that the nodes the exporter writes after it (Squeeze; Transpose and Reshape for a
bidirectional concat; Split for the other merges) turn into an RNN, LSTM, GRU or Bidirectional layer. An
operator outside the supported subset is refused with one line naming the node and its operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError
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
    MaxPooling1D,
    MaxPooling2D,
    Node,
    Permute,
    ReLU,
    Reshape,
    Sigmoid,
    Softmax,
    Tanh,
)
from sudoless.nn.layers.base import connect
from sudoless.nn.layers.recurrent import Recurrent
from sudoless.nn.onnx.layout import TIME_FIRST, Perm, channels_first, compose, identity, inverse
from sudoless.nn.onnx.writer import GRU_GATES, LSTM_GATES, _onnx, same_padding

Array = np.ndarray


@dataclass
class Held:
    """An ONNX tensor as a sudoless node: ``onnx value = node's value transposed by perm``."""

    node: Node
    perm: Perm

    @property
    def rank(self) -> int:
        return len(self.node.shape) + 1


@dataclass
class Pending:
    """A recurrent node's output (``Y``: ``(T, dirs, B, H)``; ``Y_h``: ``(dirs, B, H)``), or a global pooling's
    ``(B, C, 1, ...)``, waiting for the nodes that give it a sudoless shape.

    ``stage`` records the reshaping seen so far: ``"raw"``, ``"transposed"`` (a bidirectional concat's first
    step) or ``"split"`` (one direction of a bidirectional node)."""

    kind: str  # "Y", "Y_h" or "pooled"
    source: Held
    make: Any = None  # (return_sequences, direction or None) -> Layer, for recurrent outputs
    directions: int = 1
    stage: str = "raw"
    direction: int = 0
    layer: Layer | None = None


@dataclass
class Reader:
    """The state of one import: values by ONNX name, constants, the layers made and their weights."""

    onnx: Any
    values: dict[str, Held | Pending] = field(default_factory=dict)
    consts: dict[str, Array] = field(default_factory=dict)
    weights: list[tuple[Layer, dict[str, Array], dict[str, Array]]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def fail(self, node: Any, why: str) -> InputError:
        return InputError(f"ONNX import: node '{node.name or node.output[0]}' ({node.op_type}): {why}")

    def layer_name(self, node: Any) -> str:
        # The exporter names a node <layer>/<op>: the layer gets its name back.
        base = node.name.removesuffix(f"/{node.op_type}") or f"{node.op_type.lower()}_{len(self.names)}"
        base = base.replace("/", "_")
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def held(self, node: Any, index: int = 0) -> Held:
        name = node.input[index]
        value = self.values.get(name)
        if isinstance(value, Held):
            return value
        if value is None and name in self.consts:
            raise self.fail(node, f"its input '{name}' is a constant; sudoless layers take computed inputs")
        if value is None:
            raise self.fail(node, f"its input '{name}' is not produced by any node or graph input")
        raise self.fail(node, f"reads the {value.kind} output of a recurrent or pooling node in a way not supported")

    def const(self, node: Any, index: int, required: bool = True) -> Array | None:
        if index >= len(node.input) or not node.input[index]:
            if required:
                raise self.fail(node, f"input {index} is missing")
            return None
        name = node.input[index]
        if name not in self.consts:
            raise self.fail(node, f"input '{name}' must be a constant (an initializer)")
        return self.consts[name]

    def apply(
        self,
        layer: Layer,
        parents: Node | list[Node],
        params: dict[str, Array] | None = None,
        state: dict[str, Array] | None = None,
    ) -> Node:
        self.weights.append((layer, params or {}, state or {}))
        return connect(layer, parents)

    def ordered(self, node: Any, held: Held, perm: Perm) -> Node:
        """A sudoless node whose value, transposed by ``perm``, is the ONNX value ``held`` stands for."""
        order = compose(held.perm, inverse(perm))
        if order == identity(len(order)):
            return held.node
        if order[0] != 0:
            raise self.fail(node, "it needs the batch axis moved, which a sudoless model cannot do")
        return self.apply(Permute(list(order[1:]), name=self.layer_name(node) + "_permute"), held.node)


def _attrs(reader: Reader, node: Any) -> dict[str, Any]:
    return {a.name: reader.onnx.helper.get_attribute_value(a) for a in node.attribute}


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


# -- the operators ----------------------------------------------------------------------------------------


def _gemm(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
        raise r.fail(node, "only alpha = beta = 1 and transA = 0 map to Dense")
    x = r.held(node)
    w = r.const(node, 1)
    assert w is not None
    if w.ndim != 2:
        raise r.fail(node, "its B must be a matrix")
    w = w.T if attrs.get("transB", 0) else w
    b = r.const(node, 2, required=False)
    if b is not None and b.size == 1 and w.shape[1] != 1:
        b = np.full(w.shape[1], float(b.reshape(-1)[0]), np.float32)
    params = {"W": w} if b is None else {"W": w, "b": b.reshape(-1)}
    layer = Dense(w.shape[1], use_bias=b is not None, name=r.layer_name(node))
    return Held(r.apply(layer, r.ordered(node, x, identity(x.rank)), params), identity(x.rank))


def _matmul(r: Reader, node: Any, attrs: dict[str, Any], bias: Array | None) -> Held:
    x = r.held(node)
    w = r.const(node, 1)
    assert w is not None
    if w.ndim != 2:
        raise r.fail(node, "only a product with a constant matrix maps to Dense")
    params = {"W": w} if bias is None else {"W": w, "b": bias}
    layer = Dense(w.shape[1], use_bias=bias is not None, name=r.layer_name(node))
    return Held(r.apply(layer, r.ordered(node, x, identity(x.rank)), params), identity(x.rank))


def _elementwise(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    x = r.held(node)
    name = r.layer_name(node)
    op = node.op_type
    layer: Layer
    if op == "Relu":
        layer = ReLU(name=name)
    elif op == "Sigmoid":
        layer = Sigmoid(name=name)
    elif op == "Tanh":
        layer = Tanh(name=name)
    elif op == "LeakyRelu":
        layer = LeakyReLU(attrs.get("alpha", 0.01), name=name)
    elif op == "Gelu":
        if _text(attrs.get("approximate", "none")) != "tanh":
            raise r.fail(node, "sudoless's GELU is the tanh form; the exact (erf) form has no layer")
        layer = GELU(name=name)
    else:  # Softmax
        axis = int(attrs.get("axis", -1)) % x.rank
        target = x.perm[axis]
        if target == 0:
            raise r.fail(node, "a softmax over the batch axis has no sudoless layer")
        layer = Softmax(axis=target - x.rank, name=name)
    return Held(r.apply(layer, x.node), x.perm)


def _window(r: Reader, node: Any, attrs: dict[str, Any], x: Held, dilation: bool) -> dict[str, Any]:
    """kernel_size, strides, dilation_rate and padding of a Conv or pooling node, as sudoless takes them."""
    rank = x.rank
    spatial = rank - 2
    if spatial not in (1, 2):
        raise r.fail(node, f"only 1-D and 2-D windows have sudoless layers, not {spatial}-D")
    kernel = [int(k) for k in attrs["kernel_shape"]]
    strides = [int(s) for s in attrs.get("strides", [1] * spatial)]
    dilations = [int(d) for d in attrs.get("dilations", [1] * spatial)]
    if not dilation and any(d != 1 for d in dilations):
        raise r.fail(node, "dilated pooling has no sudoless layer")
    if attrs.get("ceil_mode", 0):
        raise r.fail(node, "ceil_mode has no sudoless equivalent")
    auto = _text(attrs.get("auto_pad", "NOTSET"))
    pads = [int(p) for p in attrs.get("pads", [0] * 2 * spatial)]
    if auto == "VALID" or (auto == "NOTSET" and not any(pads)):
        padding = "valid"
    elif auto == "SAME_UPPER":
        padding = "same"
    elif auto == "NOTSET":
        shape = x.node.shape
        sizes = shape[:spatial]
        expected: list[int] = []
        for size, k, stride, dilation_rate in zip(sizes, kernel, strides, dilations, strict=True):
            total = same_padding(size, stride, (k - 1) * dilation_rate + 1)
            if total is None:
                raise r.fail(node, "explicit pads on a strided axis of unknown size cannot be checked against 'same'")
            expected.append(total)
        if pads != [t // 2 for t in expected] + [t - t // 2 for t in expected]:
            raise r.fail(node, f"pads {pads} are neither 'valid' nor 'same' padding, the two sudoless has")
        padding = "same"
    else:
        raise r.fail(node, f"auto_pad {auto} has no sudoless equivalent")
    single = spatial == 1
    return {
        "kernel_size": kernel[0] if single else kernel,
        "strides": strides[0] if single else strides,
        "dilation_rate": dilations[0] if single else dilations,
        "padding": padding,
    }


def _conv(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    x = r.held(node)
    cf = channels_first(x.rank)
    source = r.ordered(node, x, cf)
    x = Held(source, cf)
    w = r.const(node, 1)
    assert w is not None
    if "kernel_shape" not in attrs:
        attrs = {**attrs, "kernel_shape": list(w.shape[2:])}
    window = _window(r, node, attrs, x, dilation=True)
    b = r.const(node, 2, required=False)
    groups = int(attrs.get("group", 1))
    cls = Conv1D if x.rank == 3 else Conv2D
    layer = cls(w.shape[0], groups=groups, use_bias=b is not None, name=r.layer_name(node), **window)
    kernel = w.transpose((2, 1, 0) if x.rank == 3 else (2, 3, 1, 0))
    params = {"W": kernel} if b is None else {"W": kernel, "b": b}
    return Held(r.apply(layer, source, params), cf)


def _pool(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    if len(node.output) > 1 and node.output[1]:
        raise r.fail(node, "the Indices output has no sudoless equivalent")
    if attrs.get("storage_order", 0):
        raise r.fail(node, "storage_order 1 has no sudoless equivalent")
    x = r.held(node)
    cf = channels_first(x.rank)
    source = r.ordered(node, x, cf)
    x = Held(source, cf)
    window = _window(r, node, attrs, x, dilation=False)
    window.pop("dilation_rate")
    if node.op_type == "AveragePool" and attrs.get("count_include_pad", 0) and window["padding"] == "same":
        raise r.fail(node, "count_include_pad = 1 with padding has no sudoless equivalent (padding is not counted)")
    table = {
        ("MaxPool", 3): MaxPooling1D,
        ("MaxPool", 4): MaxPooling2D,
        ("AveragePool", 3): AveragePooling1D,
        ("AveragePool", 4): AveragePooling2D,
    }
    cls = table[(node.op_type, x.rank)]
    layer = cls(window["kernel_size"], window["strides"], window["padding"], name=r.layer_name(node))
    return Held(r.apply(layer, source), cf)


def _global_pool(r: Reader, node: Any, attrs: dict[str, Any]) -> Pending:
    x = r.held(node)
    cf = channels_first(x.rank)
    if x.rank not in (3, 4):
        raise r.fail(node, "only 1-D and 2-D global pooling have sudoless layers")
    source = r.ordered(node, x, cf)
    table = {
        ("GlobalMaxPool", 3): GlobalMaxPooling1D,
        ("GlobalMaxPool", 4): GlobalMaxPooling2D,
        ("GlobalAveragePool", 3): GlobalAveragePooling1D,
        ("GlobalAveragePool", 4): GlobalAveragePooling2D,
    }
    layer = table[(node.op_type, x.rank)](name=r.layer_name(node))
    return Pending("pooled", Held(r.apply(layer, source), (0, 1)))


def _batch_norm(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    if attrs.get("training_mode", 0) or (len(node.output) > 1 and any(node.output[1:])):
        raise r.fail(node, "only inference-mode batch normalisation is supported")
    x = r.held(node)
    perm = x.perm if x.perm[1] == x.rank - 1 else channels_first(x.rank)
    source = r.ordered(node, x, perm)
    gamma, beta, mean, var = (r.const(node, k) for k in range(1, 5))
    momentum = float(attrs.get("momentum", 0.9))
    layer = BatchNormalization(momentum=momentum, epsilon=float(attrs.get("epsilon", 1e-5)), name=r.layer_name(node))
    params = {"gamma": gamma, "beta": beta}
    state = {"moving_mean": mean, "moving_variance": var}
    return Held(r.apply(layer, source, params, state), perm)  # type: ignore[arg-type]


def _layer_norm(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    x = r.held(node)
    axis = int(attrs.get("axis", -1)) % x.rank
    if axis != x.rank - 1:
        raise r.fail(node, "sudoless's LayerNorm normalises the last axis only")
    if len(node.output) > 1 and any(node.output[1:]):
        raise r.fail(node, "the Mean and InvStdDev outputs have no sudoless equivalent")
    perm = x.perm if x.perm[-1] == x.rank - 1 else identity(x.rank)
    source = r.ordered(node, x, perm)
    gamma = r.const(node, 1)
    assert gamma is not None
    beta = r.const(node, 2, required=False)
    params = {"gamma": gamma, "beta": np.zeros_like(gamma) if beta is None else beta}
    layer = LayerNorm(epsilon=float(attrs.get("epsilon", 1e-5)), name=r.layer_name(node))
    return Held(r.apply(layer, source, params), perm)


def _shape_input(r: Reader, node: Any) -> list[int] | None:
    shape = r.const(node, 1)
    return None if shape is None else [int(v) for v in shape.reshape(-1)]


def _flatten(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    if int(attrs.get("axis", 1)) != 1:
        raise r.fail(node, "only Flatten with axis 1 (keep the batch axis) has a sudoless layer")
    value = r.values.get(node.input[0])
    if isinstance(value, Pending) and value.kind == "pooled":
        return value.source
    x = r.held(node)
    source = r.ordered(node, x, identity(x.rank))
    if x.rank == 2:
        return Held(source, (0, 1))
    return Held(r.apply(Flatten(name=r.layer_name(node)), source), (0, 1))


def _reshape(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    shape = _shape_input(r, node)
    assert shape is not None
    value = r.values.get(node.input[0])
    if isinstance(value, Pending):
        return _reshape_pending(r, node, value, shape)
    if attrs.get("allowzero", 0) and 0 in shape:
        raise r.fail(node, "allowzero with a 0 in the shape has no sudoless equivalent")
    x = r.held(node)
    if not shape or shape[0] != 0:
        raise r.fail(node, f"shape {shape} does not keep the batch axis (write 0 first)")
    source = r.ordered(node, x, identity(x.rank))
    dims = source.shape
    target = [dims[k] if v == 0 and k < len(dims) else v for k, v in enumerate(shape[1:])]
    if any(d is None for d in target):
        raise r.fail(node, "copies an axis of unknown size")
    layer = Reshape([int(d) for d in target if d is not None], name=r.layer_name(node))
    return Held(r.apply(layer, source), identity(len(target) + 1))


def _transpose(r: Reader, node: Any, attrs: dict[str, Any]) -> Held | Pending:
    value = r.values.get(node.input[0])
    perm = tuple(int(p) for p in attrs.get("perm", []))
    if isinstance(value, Pending):
        bidi = value.directions == 2 and value.stage == "raw"
        if bidi and ((value.kind == "Y" and perm == (0, 2, 1, 3)) or (value.kind == "Y_h" and perm == (1, 0, 2))):
            return Pending(value.kind, value.source, value.make, 2, "transposed")
        raise r.fail(node, "this reordering of a recurrent node's output has no sudoless equivalent")
    x = r.held(node)
    if not perm:
        perm = tuple(reversed(range(x.rank)))
    return Held(x.node, compose(x.perm, perm))


def _alias(r: Reader, node: Any, attrs: dict[str, Any]) -> Held | Pending:
    value = r.values.get(node.input[0])
    if isinstance(value, Pending):
        return value
    return r.held(node)


def _dropout(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    if len(node.output) > 1 and node.output[1]:
        raise r.fail(node, "the mask output has no sudoless equivalent")
    x = r.held(node)
    ratio = r.const(node, 1, required=False)
    rate = float(attrs.get("ratio", 0.5)) if ratio is None else float(ratio.reshape(-1)[0])
    return Held(r.apply(Dropout(rate, name=r.layer_name(node)), x.node), x.perm)


def _gather(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    table = r.const(node, 0)
    assert table is not None
    if int(attrs.get("axis", 0)) != 0 or table.ndim != 2:
        raise r.fail(node, "only a lookup of rows of a constant matrix maps to Embedding")
    ids = r.held(node, 1)
    source = r.ordered(node, ids, identity(ids.rank))
    layer = Embedding(table.shape[0], table.shape[1], name=r.layer_name(node))
    return Held(r.apply(layer, source, {"W": table}), identity(ids.rank + 1))


def _merge(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    inputs = [r.held(node, k) for k in range(len(node.input))]
    perm = inputs[0].perm
    if node.op_type == "Concat":
        axis = int(attrs["axis"]) % inputs[0].rank
        if perm[axis] != inputs[0].rank - 1:
            perm = identity(inputs[0].rank)
            if axis != inputs[0].rank - 1:
                raise r.fail(node, "sudoless's Concatenate joins along the last axis only")
        layer: Layer = Concatenate(name=r.layer_name(node))
    else:
        layer = Add(name=r.layer_name(node))
    parents = [r.ordered(node, x, perm) for x in inputs]
    return Held(r.apply(layer, parents), perm)


def _add(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    names = list(node.input)
    if any(name in r.consts for name in names):
        raise r.fail(node, "adding a constant has no sudoless layer (only a Dense layer's bias after MatMul)")
    return _merge(r, node, attrs)


# -- recurrent nodes ----------------------------------------------------------------------------------------


def _unblock(matrix: Array, gates: tuple[int, ...], units: int) -> Array:
    """ONNX's (k·H, ...) gate blocks back into sudoless's (..., k·H) order: the inverse of the writer's."""
    blocks = [matrix[k * units : (k + 1) * units] for k in range(len(gates))]
    ordered = [blocks[gates.index(k)] for k in range(len(gates))]
    return np.concatenate(ordered, axis=0).T


def _recurrent(r: Reader, node: Any, attrs: dict[str, Any]) -> dict[str, Pending]:
    op = node.op_type
    if int(attrs.get("layout", 0)):
        raise r.fail(node, "layout 1 (batch-first) is not supported; the exporter writes time-first")
    for unsupported in ("activations", "activation_alpha", "activation_beta", "clip"):
        if unsupported in attrs:
            raise r.fail(node, f"attribute {unsupported} has no sudoless equivalent (default activations only)")
    if op == "LSTM" and int(attrs.get("input_forget", 0)):
        raise r.fail(node, "input_forget has no sudoless equivalent")
    if op == "GRU" and not int(attrs.get("linear_before_reset", 0)):
        raise r.fail(node, "sudoless's GRU applies the reset gate after the recurrent product (linear_before_reset=1)")
    extra = {4: "sequence_lens", 5: "initial_h", 6: "initial_c", 7: "P"}
    for index, what in extra.items():
        if index < len(node.input) and node.input[index]:
            value = r.consts.get(node.input[index])
            if value is None or np.any(value):
                raise r.fail(node, f"input {what} has no sudoless equivalent")
    if len(node.output) > 2 and node.output[2]:
        raise r.fail(node, "the final cell state output (Y_c) has no sudoless equivalent")
    x = r.held(node)
    source = r.ordered(node, x, TIME_FIRST)
    h = int(attrs["hidden_size"])
    direction = _text(attrs.get("direction", "forward"))
    w, rr = r.const(node, 1), r.const(node, 2)
    b = r.const(node, 3, required=False)
    assert w is not None and rr is not None
    dirs = w.shape[0]
    gates, cls = {"LSTM": (LSTM_GATES, LSTM), "GRU": (GRU_GATES, GRU), "RNN": ((0,), RNN)}[op]
    k = len(gates)
    if b is None:
        b = np.zeros((dirs, 2 * k * h), np.float32)
    if op != "GRU" and np.any(b[:, k * h :]):
        # sudoless keeps one bias; ONNX's two add up before the gates, so their sum is the same layer.
        b = np.concatenate([b[:, : k * h] + b[:, k * h :], np.zeros_like(b[:, k * h :])], axis=1)
    params = []
    for d in range(dirs):
        p = {"W": _unblock(w[d], gates, h), "U": _unblock(rr[d], gates, h), "b": _unblock(b[d, : k * h], gates, h)}
        if op == "GRU":
            p["c"] = _unblock(b[d, k * h :], gates, h)
        params.append(p)
    base = r.layer_name(node)
    made: list[int] = [0]

    def make(pending: Pending, sequences: bool, which: int | None) -> Node:
        """The sudoless layer for this node: one direction (``which``) or both (a Bidirectional concat)."""
        made[0] += 1
        name = base if made[0] == 1 else f"{base}_{made[0]}"
        kwargs: dict[str, Any] = {"return_sequences": sequences, "name": name}
        if op == "LSTM":
            kwargs["unit_forget_bias"] = False
        if which is None:
            layer = Bidirectional(cls(h, **kwargs), name=name)
            r.weights.append((layer.forward_layer, params[0], {}))
            r.weights.append((layer.backward_layer, params[1], {}))
            return connect(layer, source)
        reverse = direction == "reverse" or (direction == "bidirectional" and which == 1)
        layer_one: Recurrent = cls(h, reverse=reverse, **kwargs)
        return r.apply(layer_one, source, params[which])

    held = Held(source, TIME_FIRST)
    outputs = {"Y": Pending("Y", held, make, dirs), "Y_h": Pending("Y_h", held, make, dirs)}
    return {name: outputs[kind] for name, kind in zip(node.output[:2], ("Y", "Y_h"), strict=False) if name}


def _squeeze(r: Reader, node: Any, attrs: dict[str, Any]) -> Held:
    value = r.values.get(node.input[0])
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1:
        axes = _shape_input(r, node)
    axes = [int(a) for a in (axes or [])]
    if isinstance(value, Pending):
        if value.kind == "pooled":
            return value.source
        axis = 1 if value.kind == "Y" else 0
        one_dir = value.directions == 1 and value.stage == "raw"
        if axes == [axis] and (one_dir or value.stage == "split"):
            which = value.direction
            sequences = value.kind == "Y"
            made = value.make(value, sequences, which)
            return Held(made, TIME_FIRST if sequences else (0, 1))
        raise r.fail(node, "this squeeze of a recurrent node's output has no sudoless equivalent")
    raise r.fail(node, "Squeeze is supported only after a recurrent or global pooling node")


def _reshape_pending(r: Reader, node: Any, value: Pending, shape: list[int]) -> Held:
    if value.kind == "pooled" and shape in ([0, -1], [0, value.source.node.shape[-1]]):
        return value.source
    if value.stage == "transposed":
        sequences = value.kind == "Y"
        if (sequences and shape == [0, 0, -1]) or (not sequences and shape == [0, -1]):
            made = value.make(value, sequences, None)
            return Held(made, TIME_FIRST if sequences else (0, 1))
    raise r.fail(node, f"reshaping this output to {shape} has no sudoless equivalent")


def _split(r: Reader, node: Any, attrs: dict[str, Any]) -> dict[str, Pending]:
    value = r.values.get(node.input[0])
    if not isinstance(value, Pending) or value.kind == "pooled" or value.directions != 2:
        raise r.fail(node, "Split is supported only between the two directions of a bidirectional recurrent node")
    axis = int(attrs.get("axis", 0))
    if axis != (1 if value.kind == "Y" else 0) or len(node.output) != 2:
        raise r.fail(node, "only a split into the two directions is supported")
    return {name: Pending(value.kind, value.source, value.make, 2, "split", k) for k, name in enumerate(node.output)}


HANDLERS: dict[str, Any] = {
    "Gemm": _gemm,
    "Relu": _elementwise,
    "Sigmoid": _elementwise,
    "Tanh": _elementwise,
    "LeakyRelu": _elementwise,
    "Gelu": _elementwise,
    "Softmax": _elementwise,
    "Conv": _conv,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "GlobalMaxPool": _global_pool,
    "GlobalAveragePool": _global_pool,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Identity": _alias,
    "Cast": _alias,
    "Dropout": _dropout,
    "Gather": _gather,
    "Sum": _merge,
    "Concat": _merge,
    "Add": _add,
    "Squeeze": _squeeze,
}
MULTI: dict[str, Any] = {"LSTM": _recurrent, "GRU": _recurrent, "RNN": _recurrent, "Split": _split}


def _consumers(graph: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _input_shape(reader: Reader, value: Any) -> tuple[int | None, ...]:
    dims = value.type.tensor_type.shape.dim
    if not dims:
        raise InputError(f"ONNX import: graph input '{value.name}' has no shape; sudoless needs its rank")
    return tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in dims[1:])


def from_model_proto(proto: Any) -> Model:
    """A sudoless Model computing what the ONNX ``proto`` computes; InputError names the first node it cannot map."""
    onnx = _onnx()
    for opset in proto.opset_import:
        if opset.domain not in ("", "ai.onnx"):
            raise InputError(f"ONNX import: operator domain '{opset.domain}' is not supported (standard ONNX only)")
        if opset.domain in ("", "ai.onnx") and opset.version < 13:
            raise InputError(f"ONNX import: opset {opset.version} is older than 13, the oldest supported")
    graph = proto.graph
    reader = Reader(onnx)
    for init in graph.initializer:
        reader.consts[init.name] = onnx.numpy_helper.to_array(init).astype(np.float32, copy=False)
    inputs: list[Node] = []
    for value in graph.input:
        if value.name in reader.consts:
            continue
        shape = _input_shape(reader, value)
        node = Input(shape, name=value.name)
        inputs.append(node)
        reader.values[value.name] = Held(node, identity(len(shape) + 1))
    consumers = _consumers(graph)
    skip: set[int] = set()
    for index, node in enumerate(graph.node):
        if index in skip:
            continue
        if node.domain not in ("", "ai.onnx"):
            raise reader.fail(node, f"operator domain '{node.domain}' is not supported")
        attrs = _attrs(reader, node)
        op = node.op_type
        if op == "Constant":
            reader.consts[node.output[0]] = onnx.numpy_helper.to_array(attrs["value"]).astype(np.float32, copy=False)
            continue
        if op == "MatMul":
            bias = None
            users = consumers.get(node.output[0], [])
            if len(users) == 1 and users[0].op_type == "Add":
                other = [name for name in users[0].input if name != node.output[0]]
                if len(other) == 1 and other[0] in reader.consts and reader.consts[other[0]].ndim == 1:
                    bias = reader.consts[other[0]]
                    skip.add(list(graph.node).index(users[0]))
                    reader.values[users[0].output[0]] = _matmul(reader, node, attrs, bias)
                    continue
            reader.values[node.output[0]] = _matmul(reader, node, attrs, None)
            continue
        if op in MULTI:
            reader.values.update(MULTI[op](reader, node, attrs))
            continue
        if op not in HANDLERS:
            raise reader.fail(node, "no sudoless layer computes this operator")
        reader.values[node.output[0]] = HANDLERS[op](reader, node, attrs)
    outputs: list[Node] = []
    for value in graph.output:
        held = reader.values.get(value.name)
        if not isinstance(held, Held):
            raise InputError(f"ONNX import: graph output '{value.name}' is not a value sudoless can compute")
        rank = held.rank
        if held.perm != identity(rank):
            fake = onnx.helper.make_node("Identity", [value.name], [value.name], name=value.name)
            outputs.append(reader.ordered(fake, held, identity(rank)))
        else:
            outputs.append(held.node)
    model = Model(
        inputs if len(inputs) > 1 else inputs[0],
        outputs if len(outputs) > 1 else outputs[0],
        name=graph.name or None,
    )
    model.build([node.shape for node in inputs] if len(inputs) > 1 else inputs[0].shape)
    for layer, params, state in reader.weights:
        for key, value in params.items():
            _assign(layer.params, key, value, layer)
        for key, value in state.items():
            _assign(layer.state, key, value, layer)
    return model


def _assign(target: dict[str, Array], key: str, value: Array, layer: Layer) -> None:
    if target[key].shape != value.shape:
        raise InputError(
            f"ONNX import: layer '{layer.name}' {key} has shape {value.shape}, the layer needs {target[key].shape}"
        )
    target[key][...] = value


def load_onnx(path: str | Path) -> Model:
    """Read the ONNX file at ``path`` as a sudoless :class:`~sudoless.nn.functional.Model` (float32, built, with
    its weights), ready for ``predict``, ``evaluate`` or further training."""
    onnx = _onnx()
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such ONNX file")
    try:
        proto = onnx.load(str(file))
    except Exception as exc:  # a protobuf decode error has no stable type across onnx releases
        raise InputError(f"{file}: not an ONNX model ({exc})") from None
    try:
        return from_model_proto(proto)
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None
