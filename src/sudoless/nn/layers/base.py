"""The contract every layer keeps, so that a new layer is one small class.

A layer owns its parameters (``params``) and their gradients (``grads``, same keys and shapes). ``forward``
computes the output and keeps what ``backward`` needs on ``self``; ``backward`` takes the gradient of the loss
with respect to the output, writes every parameter gradient *in place* (a model packs all parameters and
gradients into two flat vectors and hands the layers views into them, so rebinding an array would cut the
layer off from the optimiser) and returns the gradient with respect to the input. Shapes exclude the batch
axis. Layers register by class name so an architecture can be rebuilt from JSON.

Some layers also keep ``state``: arrays that training updates but the optimiser does not (BatchNormalization's
moving mean and variance). They are saved and loaded with the weights, but not packed for the optimiser.

Calling a layer on :class:`Node` objects (the functional API) records a graph node instead of computing; the
node lives here, beside the layer, so that layers never depend on the functional API built on top of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

import numpy as np

from sudoless.errors import InputError

Shape = tuple[int | None, ...]
Array = np.ndarray


def last_axis(shape: Shape) -> int:
    """The size of the last (feature or channel) axis, which a layer's weights are made for; it must be known
    even where other axes (a sequence's length) are not."""
    size = shape[-1]
    if size is None:
        raise InputError(f"the last axis of the input shape {shape} must have a size (the weights depend on it)")
    return size


LAYERS: dict[str, type[Layer]] = {}


def register(cls: type[Layer]) -> type[Layer]:
    """Make ``cls`` known to :func:`layer_from_config` under its class name."""
    LAYERS[cls.__name__] = cls
    return cls


class Layer:
    """One differentiable step of a network.

    ``input_grad`` is False for a layer whose input is data (the first layer of a model): its ``backward``
    may then skip computing the input gradient, which for a wide first Dense layer is a third of the work.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.state: dict[str, Array] = {}
        self.built = False
        self.dtype = np.dtype(np.float32)
        self.input_grad = True

    # -- building --------------------------------------------------------------------------------------------

    def build(self, input_shape: Any, rng: np.random.Generator, dtype: Any = np.float32) -> Any:
        """Create the parameters for ``input_shape`` and return the output shape."""
        self.dtype = np.dtype(dtype)
        self._build(input_shape, rng)
        self.built = True
        return self.output_shape(input_shape)

    def _build(self, input_shape: Any, rng: np.random.Generator) -> None:
        """Create parameters with :meth:`add_param`; parameter-free layers need not override this."""

    def add_param(self, name: str, value: Array) -> Array:
        self.params[name] = np.ascontiguousarray(value, dtype=self.dtype)
        self.grads[name] = np.zeros_like(self.params[name])
        return self.params[name]

    def add_state(self, name: str, value: Array) -> Array:
        self.state[name] = np.array(value, dtype=self.dtype)
        return self.state[name]

    def output_shape(self, input_shape: Any) -> Any:
        return input_shape

    # -- computing -------------------------------------------------------------------------------------------

    # A merge layer takes a list of arrays and a list of their masks; every other layer one array and its mask.
    def forward(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        raise NotImplementedError

    def backward(self, dy: Array) -> Any:
        raise NotImplementedError

    def compute_mask(self, mask: Any) -> Array | None:
        """The mask of the output given the input's (``True`` = a real time step); passed through by default."""
        return mask

    def reset_states(self) -> None:
        """Forget carried recurrent state; only stateful layers hold any."""
        for layer in self.sublayers():
            layer.reset_states()

    def set_stateful(self, stateful: bool) -> None:
        """Carry recurrent state from one forward call to the next (truncated BPTT, sampling)."""
        for layer in self.sublayers():
            layer.set_stateful(stateful)

    # -- structure -------------------------------------------------------------------------------------------

    def sublayers(self) -> list[Layer]:
        return []

    def param_slots(self, prefix: str = "") -> Iterator[tuple[str, Layer, str]]:
        """Every (qualified name, owning layer, key) of this layer and its sublayers, in a fixed order."""
        for key in self.params:
            yield f"{prefix}{key}", self, key
        for index, layer in enumerate(self.sublayers()):
            yield from layer.param_slots(f"{prefix}{layer.name or index}/")

    def state_slots(self, prefix: str = "") -> Iterator[tuple[str, Layer, str]]:
        """Every (qualified name, owning layer, key) of the non-trained state, named like the parameters."""
        for key in self.state:
            yield f"{prefix}{key}", self, key
        for index, layer in enumerate(self.sublayers()):
            yield from layer.state_slots(f"{prefix}{layer.name or index}/")

    def parameters(self, prefix: str = "") -> Iterator[tuple[str, Array, Array]]:
        """Every (qualified name, parameter, gradient), in the order of :meth:`param_slots`."""
        for name, layer, key in self.param_slots(prefix):
            yield name, layer.params[key], layer.grads[key]

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (without its weights)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def __call__(self, inputs: Node | list[Node]) -> Node:
        """Functional API: apply this layer to symbolic inputs and return the symbolic output."""
        if isinstance(inputs, Node) or (isinstance(inputs, list) and all(isinstance(i, Node) for i in inputs)):
            return connect(self, inputs)
        raise TypeError("call a layer on Input() nodes to build a model; use forward() on arrays")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


class Node:
    """A symbolic tensor: the output of ``layer`` applied to ``inbound`` nodes (no layer for an Input).

    ``multi`` says the layer took a list (a merge layer), even a list of one node.
    """

    def __init__(
        self,
        shape: Any,
        layer: Layer | None = None,
        inbound: list[Node] | None = None,
        multi: bool = False,
        name: str | None = None,
    ) -> None:
        self.shape = shape
        self.layer = layer
        self.inbound = inbound or []
        self.multi = multi
        self.name = name


def connect(layer: Layer, inputs: Node | list[Node]) -> Node:
    """The node of ``layer`` applied to ``inputs``, with its output shape inferred from theirs."""
    multi = isinstance(inputs, list)
    inbound = list(inputs) if isinstance(inputs, list) else [inputs]
    in_shape = [n.shape for n in inbound] if multi else inbound[0].shape
    return Node(layer.output_shape(in_shape), layer, inbound, multi)


def layer_config(layer: Layer) -> dict[str, Any]:
    return {"class": type(layer).__name__, "config": layer.get_config()}


def layer_from_config(spec: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``{"class": name, "config": {...}}``."""
    name = spec.get("class")
    if name not in LAYERS:
        raise InputError(f"unknown layer '{name}'; known layers: {', '.join(sorted(LAYERS))}")
    try:
        return LAYERS[name].from_config(dict(spec.get("config") or {}))
    except TypeError as exc:
        raise InputError(f"layer {name}: {exc}") from None
