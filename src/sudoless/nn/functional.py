"""The functional API: call layers on symbolic inputs to describe a graph, then wrap it in a :class:`Model`.

::

    x = Input((64,))
    h = ReLU()(Dense(128)(x))
    out = Dense(10)(Add()([h, Dense(128)(x)]))
    model = Model(x, out)

Graphs may have several inputs, branches that merge (Add, Concatenate) and several outputs (``Model(x, [a,
b])``: one loss and weight per output at ``compile``, targets and predictions as lists). A layer object may be
called more than once (a *shared* layer: the two towers of a siamese network, a block applied twice): it holds
one set of weights, and the gradients of all its calls are summed into it.

A layer keeps what its backward pass needs on itself, so a shared layer's second call would overwrite what
its first call left. The model therefore snapshots a shared layer's attributes (and its sublayers') after each
call and puts each call's snapshot back before back-propagating through that call; layers that are used once,
the usual case, pay nothing for this.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import Array, Layer, Node, connect, layer_config, layer_from_config, register
from sudoless.nn.layers.recurrent import STATE_NAMES, OutputItem, add_gradients
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


Snapshot = list[tuple[Layer, dict[str, Any]]]


def _snapshot(layer: Layer) -> Snapshot:
    """The attributes of ``layer`` and of every layer inside it, as they are now (references, not copies)."""
    found = [(layer, dict(vars(layer)))]
    for sub in layer.sublayers():
        found.extend(_snapshot(sub))
    return found


def _restore(snapshot: Snapshot) -> None:
    for layer, attributes in snapshot:
        vars(layer).update(attributes)


@register
class Model(Network):
    """A model defined by a graph of layers from :func:`Input` nodes to one output node or a list of them."""

    def __init__(
        self,
        inputs: Node | list[Node],
        outputs: Node | list[Node],
        seed: int = 0,
        dtype: str = "float32",
        name: str | None = None,
    ) -> None:
        super().__init__(seed=seed, dtype=dtype, name=name)
        self.inputs = list(inputs) if isinstance(inputs, list) else [inputs]
        self.multi_input = isinstance(inputs, list)
        self.outputs = list(outputs) if isinstance(outputs, list) else [outputs]
        self.multi_output = isinstance(outputs, list)
        if not self.outputs:
            raise InputError("a model needs at least one output")
        self.nodes = _topological(self.outputs)
        for node in self.nodes:
            if node.layer is None and not any(node is i for i in self.inputs):
                raise InputError("the output depends on an Input() that is not among the model's inputs")
        self.layer_nodes = [n for n in self.nodes if n.layer is not None]
        self.layers: list[Layer] = []
        uses: dict[int, list[Node]] = {}
        for index, node in enumerate(self.layer_nodes):
            layer = node.layer
            assert layer is not None
            if id(layer) not in uses:
                self.layers.append(layer)
                uses[id(layer)] = []
            uses[id(layer)].append(node)
            if layer.name is None:
                source = node.inbound[0].layer
                # an item of a call is named after what it picks: lstm_1_state_h
                if isinstance(layer, OutputItem) and source is not None and source.name is not None:
                    layer.name = f"{source.name}_{STATE_NAMES[min(layer.index, 2)]}"
                else:
                    layer.name = f"{type(layer).__name__.lower()}_{index}"
        #: layers called at several nodes, by id, with those nodes in call order
        self.shared = {key: nodes for key, nodes in uses.items() if len(nodes) > 1}
        self._snapshots: dict[int, Snapshot] = {}

    @property
    def output_names(self) -> list[str]:
        """The outputs' names (the names of the layers that produce them), for a model with several outputs."""
        if not self.multi_output:
            return []
        names: list[str] = []
        for k, node in enumerate(self.outputs):
            base = node.layer.name if node.layer is not None else (node.name or f"output_{k}")
            name, suffix = str(base), 1
            while name in names:
                name, suffix = f"{base}_{suffix}", suffix + 1
            names.append(name)
        return names

    def sublayers(self) -> list[Layer]:
        return self.layers

    def _build_layers(self, input_shape: Any, rng: np.random.Generator) -> Any:
        # A layer computes its input gradient if any of its calls has an input that depends on parameters.
        for each in self.layers:
            each.input_grad = self.input_grad
        for node in self.layer_nodes:
            if node.layer is not None and any(p.layer is not None for p in node.inbound):
                node.layer.input_grad = True
        shapes: dict[int, Any] = {id(i): i.shape for i in self.inputs}
        built: dict[int, Any] = {}
        for node in self.layer_nodes:
            layer = node.layer
            assert layer is not None
            in_shape = [shapes[id(p)] for p in node.inbound] if node.multi else shapes[id(node.inbound[0])]
            if id(layer) in built:
                if _plain(in_shape) != _plain(built[id(layer)]):
                    raise InputError(
                        f"layer '{layer.name}' is shared by inputs of shapes {_plain(built[id(layer)])} "
                        f"and {_plain(in_shape)}; a shared layer takes inputs of one shape"
                    )
                shapes[id(node)] = layer.output_shape(in_shape)
                continue
            built[id(layer)] = in_shape
            shapes[id(node)] = layer.build(in_shape, rng, self.dtype)
        out = [shapes[id(o)] for o in self.outputs]
        return out if self.multi_output else out[0]

    def _ensure_built(self, x: Any) -> None:
        if not self.built:
            self.build([i.shape for i in self.inputs] if self.multi_input else self.inputs[0].shape)

    def _infer_shape(self, input_shape: Any) -> Any:
        shapes = [o.shape for o in self.outputs]
        return shapes if self.multi_output else shapes[0]

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
            if id(layer) in self.shared:
                self._snapshots[id(node)] = _snapshot(layer)
        if self.multi_output:
            self.output_mask = [masks[id(o)] for o in self.outputs]
            return [values[id(o)] for o in self.outputs]
        self.output_mask = masks[id(self.outputs[0])]
        return values[id(self.outputs[0])]

    def backward(self, dy: Any) -> Any:
        grads: dict[int, Any] = {}
        for node, g in zip(self.outputs, dy if self.multi_output else [dy], strict=True):
            if g is not None:
                grads[id(node)] = g if id(node) not in grads else grads[id(node)] + g
        sums: dict[int, list[Array]] = {}
        reached: set[int] = set()
        for node in reversed(self.layer_nodes):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            layer = node.layer
            assert layer is not None
            shared = id(layer) in self.shared
            if shared:
                _restore(self._snapshots[id(node)])
            dx = layer.backward(g)
            if shared:
                _accumulate(sums, layer)
            reached.add(id(layer))
            parts = dx if node.multi else [dx]
            for parent, part in zip(node.inbound, parts, strict=True):
                if part is None:
                    continue
                key = id(parent)
                grads[key] = part if key not in grads else add_gradients(grads[key], part)
        self._finish_gradients(sums, reached)
        if not self.input_grad:
            return None
        result = [grads.get(id(i)) for i in self.inputs]
        return result if self.multi_input else result[0]

    def _finish_gradients(self, sums: dict[int, list[Array]], reached: set[int]) -> None:
        """Write the summed gradients of shared layers, leave each shared layer as its last call left it, and
        zero the gradients of layers no gradient reached (an output without a loss) rather than keep stale ones."""
        for layer in self.layers:
            if id(layer) in sums:
                for (_, owner, key), total in zip(layer.param_slots(), sums[id(layer)], strict=True):
                    owner.grads[key][...] = total
            if id(layer) in self.shared:
                _restore(self._snapshots[id(self.shared[id(layer)][-1])])
            if id(layer) not in reached:
                for _, owner, key in layer.param_slots():
                    owner.grads[key][...] = 0.0

    def compute_mask(self, mask: Any) -> Any:
        return self.output_mask

    def get_config(self) -> dict[str, Any]:
        index = {id(n): k for k, n in enumerate(self.nodes)}
        first: dict[int, int] = {}
        nodes: list[dict[str, Any]] = []
        for k, node in enumerate(self.nodes):
            if node.layer is None:
                nodes.append({"input": list(node.shape)})
                continue
            inbound = {"inbound": [index[id(p)] for p in node.inbound], "multi": node.multi}
            if id(node.layer) in first:
                nodes.append({"layer_of": first[id(node.layer)], **inbound})
            else:
                first[id(node.layer)] = k
                nodes.append({"layer": layer_config(node.layer), **inbound})
        outputs = [index[id(o)] for o in self.outputs]
        where = {"outputs": outputs} if self.multi_output else {"output": outputs[0]}
        return {
            "nodes": nodes,
            "inputs": [index[id(i)] for i in self.inputs],
            "multi_input": self.multi_input,
            **where,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        built: list[Node] = []
        for spec in config["nodes"]:
            if "input" in spec:
                built.append(Input(tuple(spec["input"])))
                continue
            shared = built[spec["layer_of"]].layer if "layer_of" in spec else None
            layer = shared if shared is not None else layer_from_config(spec["layer"])
            parents = [built[k] for k in spec["inbound"]]
            built.append(connect(layer, parents if spec.get("multi") else parents[0]))
        inputs = [built[k] for k in config["inputs"]]
        outputs = [built[k] for k in config["outputs"]] if "outputs" in config else built[config["output"]]
        return cls(
            inputs if config.get("multi_input") else inputs[0],
            outputs,
            seed=config.get("seed", 0),
            dtype=config.get("dtype", "float32"),
            name=config.get("name"),
        )


def _plain(shape: Any) -> Any:
    """A shape with tuples and lists alike, so shapes from JSON and from Input() compare equal."""
    return [_plain(s) for s in shape] if isinstance(shape, list) else tuple(shape)


def _accumulate(sums: dict[int, list[Array]], layer: Layer) -> None:
    """Add the parameter gradients one call of a shared layer just wrote to the running sums of its calls."""
    current = [owner.grads[key] for _, owner, key in layer.param_slots()]
    if id(layer) not in sums:
        sums[id(layer)] = [g.copy() for g in current]
    else:
        for total, g in zip(sums[id(layer)], current, strict=True):
            total += g
