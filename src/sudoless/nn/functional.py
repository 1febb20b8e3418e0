"""The functional API: call layers on symbolic inputs to describe a graph, then wrap it in a :class:`Model`.

::

    x = Input((64,))
    h = ReLU()(Dense(128)(x))
    out = Dense(10)(Add()([h, Dense(128)(x)]))
    model = Model(x, out)

Graphs may have several inputs and branches that merge (Add, Concatenate); each layer object is used once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import Array, Layer, Node, connect, layer_config, layer_from_config, register
from sudoless.nn.model import Network


def Input(shape: tuple[int | None, ...], name: str | None = None) -> Node:  # noqa: N802 - Keras' spelling
    """A model input of the given per-example shape (``None`` for a variable time axis)."""
    return Node(tuple(shape), name=name)


def _topological(outputs: list[Node]) -> list[Node]:
    order: list[Node] = []
    seen: set[int] = set()

    def visit(node: Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.inbound:
            visit(parent)
        order.append(node)

    for out in outputs:
        visit(out)
    return order


@register
class Model(Network):
    """A model defined by a graph of layers from :func:`Input` nodes to one output node."""

    def __init__(self, inputs: Node | list[Node], outputs: Node, seed: int = 0, dtype: str = "float32",
                 name: str | None = None) -> None:
        super().__init__(seed=seed, dtype=dtype, name=name)
        self.inputs = list(inputs) if isinstance(inputs, list) else [inputs]
        self.multi_input = isinstance(inputs, list)
        self.outputs = outputs
        self.nodes = _topological([outputs])
        for node in self.nodes:
            if node.layer is None and not any(node is i for i in self.inputs):
                raise InputError("the output depends on an Input() that is not among the model's inputs")
        self.layer_nodes = [n for n in self.nodes if n.layer is not None]
        layers = [n.layer for n in self.layer_nodes]
        if len({id(layer) for layer in layers}) != len(layers):
            raise InputError("a layer object is used twice in one model; shared layers are not supported")
        for index, node in enumerate(self.layer_nodes):
            if node.layer.name is None:  # type: ignore[union-attr]
                node.layer.name = f"{type(node.layer).__name__.lower()}_{index}"  # type: ignore[union-attr]

    def sublayers(self) -> list[Layer]:
        return [n.layer for n in self.layer_nodes]  # type: ignore[misc]

    def _build_layers(self, input_shape: Any, rng: np.random.Generator) -> Any:
        shapes: dict[int, Any] = {id(i): i.shape for i in self.inputs}
        for node in self.layer_nodes:
            layer = node.layer
            assert layer is not None
            in_shape = [shapes[id(p)] for p in node.inbound] if node.multi else shapes[id(node.inbound[0])]
            layer.input_grad = self.input_grad or any(p.layer is not None for p in node.inbound)
            shapes[id(node)] = layer.build(in_shape, rng, self.dtype)
        return shapes[id(self.outputs)]

    def _ensure_built(self, x: Any) -> None:
        if not self.built:
            self.build([i.shape for i in self.inputs] if self.multi_input else self.inputs[0].shape)

    def _infer_shape(self, input_shape: Any) -> Any:
        return self.outputs.shape

    def forward(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        xs = list(x) if self.multi_input else [x]
        if len(xs) != len(self.inputs):
            raise InputError(f"the model has {len(self.inputs)} inputs, got {len(xs)} arrays")
        values: dict[int, Any] = {id(i): v for i, v in zip(self.inputs, xs, strict=True)}
        masks: dict[int, Any] = {id(i): None for i in self.inputs}
        if mask is not None and not self.multi_input:
            masks[id(self.inputs[0])] = mask
        for node in self.layer_nodes:
            layer = node.layer
            assert layer is not None
            if node.multi:
                arg, arg_mask = [values[id(p)] for p in node.inbound], [masks[id(p)] for p in node.inbound]
            else:
                arg, arg_mask = values[id(node.inbound[0])], masks[id(node.inbound[0])]
            values[id(node)] = layer.forward(arg, training, arg_mask)
            masks[id(node)] = layer.compute_mask(arg_mask)
        self.output_mask = masks[id(self.outputs)]
        return values[id(self.outputs)]

    def backward(self, dy: Array) -> Any:
        grads: dict[int, Any] = {id(self.outputs): dy}
        for node in reversed(self.layer_nodes):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            dx = node.layer.backward(g)  # type: ignore[union-attr]
            parts = dx if node.multi else [dx]
            for parent, part in zip(node.inbound, parts, strict=True):
                if part is None:
                    continue
                key = id(parent)
                grads[key] = part if key not in grads else grads[key] + part
        if not self.input_grad:
            return None
        result = [grads.get(id(i)) for i in self.inputs]
        return result if self.multi_input else result[0]

    def compute_mask(self, mask: Any) -> Any:
        return self.output_mask

    def get_config(self) -> dict[str, Any]:
        index = {id(n): k for k, n in enumerate(self.nodes)}
        nodes = []
        for node in self.nodes:
            if node.layer is None:
                nodes.append({"input": list(node.shape)})
            else:
                nodes.append({"layer": layer_config(node.layer), "inbound": [index[id(p)] for p in node.inbound],
                              "multi": node.multi})
        return {"nodes": nodes, "inputs": [index[id(i)] for i in self.inputs], "multi_input": self.multi_input,
                "output": index[id(self.outputs)], "seed": self.seed, "dtype": self.dtype.name, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        built: list[Node] = []
        for spec in config["nodes"]:
            if "input" in spec:
                built.append(Input(tuple(spec["input"])))
            else:
                layer = layer_from_config(spec["layer"])
                parents = [built[k] for k in spec["inbound"]]
                built.append(connect(layer, parents if spec.get("multi") else parents[0]))
        inputs = [built[k] for k in config["inputs"]]
        return cls(inputs if config.get("multi_input") else inputs[0], built[config["output"]],
                   seed=config.get("seed", 0), dtype=config.get("dtype", "float32"), name=config.get("name"))
