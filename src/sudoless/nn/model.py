"""Models: a trainable whole made of layers, and the Sequential stack.

A model is itself a layer, so a Sequential can sit inside another model (that is how recurrent layers are
stacked as one block). The outermost model owns the parameters: when it is built it packs every parameter
into one flat vector and every gradient into another, and points each layer at views of them. Optimisers,
gradient clipping and (later) data-parallel all-reduce then each work on one buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError, StateError
from sudoless.nn import checkpoints, training
from sudoless.nn.arrays import cast_input, count, input_shape_of, take
from sudoless.nn.layers.base import Array, Layer, layer_config, layer_from_config, register
from sudoless.nn.losses import Loss, get_loss, loss_config
from sudoless.nn.metrics import Metric, get_metric, metric_config
from sudoless.nn.optimizers import Optimizer, get_optimizer, saved_optimizer
from sudoless.nn.outputs import WeightedLosses, compile_outputs
from sudoless.nn.threads import ensure_threads

DTYPES = ("float32", "float64")


class Network(Layer):
    """Behaviour shared by every model: building, packing, compiling, training, evaluating, saving.

    ``seed`` fixes the initial weights, dropout masks and (unless ``fit`` is given its own) the shuffling
    order; ``dtype`` is float32 for training and float64 for gradient checks.
    """

    def __init__(self, seed: int = 0, dtype: str = "float32", name: str | None = None) -> None:
        super().__init__(name)
        self.seed = int(seed)
        self.dtype = np.dtype(dtype)
        self.input_grad = False
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.metrics: list[Metric] = []
        self.input_shape: Any = None
        self.flat_params: Array | None = None
        self.flat_grads: Array | None = None
        self.decayed = 0
        self.stop_training = False
        #: the mask of the last forward pass's output (a list of them for a model with several outputs)
        self.output_mask: Any = None

    # -- building --------------------------------------------------------------------------------------------

    def build(self, input_shape: Any, rng: np.random.Generator | None = None, dtype: Any = None) -> Any:
        """Create every parameter for ``input_shape`` (batch axis excluded) and, at the top level, pack them."""
        top = rng is None
        rng = np.random.default_rng(self.seed) if rng is None else rng
        if dtype is not None and not top:
            self.dtype = np.dtype(dtype)
        self.input_shape = input_shape
        shape = self._build_layers(input_shape, rng)
        self.built = True
        if top:
            self._pack()
        self._output_shape = shape
        return shape

    def _build_layers(self, input_shape: Any, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def output_shape(self, input_shape: Any) -> Any:
        return self._output_shape if self.built else self._infer_shape(input_shape)

    def _infer_shape(self, input_shape: Any) -> Any:
        raise NotImplementedError

    def _pack(self) -> None:
        slots = list(self.param_slots())
        names = [name for name, _, _ in slots]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InputError(f"two layers share a name, so parameters collide: {', '.join(dupes)}; rename one")
        slots.sort(key=lambda slot: slot[1].params[slot[2]].ndim < 2)
        self.decayed = sum(layer.params[key].size for _, layer, key in slots if layer.params[key].ndim >= 2)
        total = sum(layer.params[key].size for _, layer, key in slots)
        self.flat_params = np.zeros(total, self.dtype)
        self.flat_grads = np.zeros(total, self.dtype)
        self.slots: dict[str, tuple[Layer, str, slice]] = {}
        #: where each parameter tensor starts in the flat vectors (per-tensor gradient clipping reads it)
        self.segments = np.cumsum([0] + [layer.params[key].size for _, layer, key in slots[:-1]]).astype(np.intp)
        if self.optimizer is not None:
            self.optimizer.segments = self.segments
        offset = 0
        for name, layer, key in slots:
            value = layer.params[key]
            part = slice(offset, offset + value.size)
            view = self.flat_params[part].reshape(value.shape)
            view[...] = value
            layer.params[key] = view
            layer.grads[key] = self.flat_grads[part].reshape(value.shape)
            self.slots[name] = (layer, key, part)
            offset += value.size

    def _ensure_built(self, x: Any) -> None:
        if not self.built:
            self.build(input_shape_of(x))

    def count_params(self) -> int:
        return 0 if self.flat_params is None else int(self.flat_params.size)

    def packed(self) -> tuple[Array, Array]:
        """The flat parameter and gradient vectors that every layer's arrays are views of (see ``_pack``)."""
        if self.flat_params is None or self.flat_grads is None:
            raise StateError("build or train the model first: it has no parameters yet")
        return self.flat_params, self.flat_grads

    def get_weights(self) -> dict[str, Array]:
        """Copies of every parameter by qualified name (``layer/param``)."""
        return {name: layer.params[key].copy() for name, (layer, key, _) in self.slots.items()}

    def set_weights(self, weights: dict[str, Array]) -> None:
        missing = sorted(set(self.slots) - set(weights))
        if missing:
            raise InputError(f"weights are missing for {', '.join(missing[:5])}")
        for name, (layer, key, _) in self.slots.items():
            value = np.asarray(weights[name])
            if value.shape != layer.params[key].shape:
                raise InputError(
                    f"weights for {name} have shape {value.shape}, the model needs {layer.params[key].shape}"
                )
            layer.params[key][...] = value

    def get_state(self) -> dict[str, Array]:
        """Copies of every layer's non-trained state (moving statistics) by qualified name."""
        return {name: layer.state[key].copy() for name, layer, key in self.state_slots()}

    def set_state(self, state: dict[str, Array]) -> None:
        for name, layer, key in self.state_slots():
            if name not in state:
                raise InputError(f"the saved state has no {name}")
            value = np.asarray(state[name])
            if value.shape != layer.state[key].shape:
                raise InputError(f"state {name} has shape {value.shape}, the model needs {layer.state[key].shape}")
            layer.state[key][...] = value

    def summary(self) -> str:
        lines = [f"{type(self).__name__} ({self.count_params():,} parameters, {self.dtype})"]
        for name, (layer, key, _) in getattr(self, "slots", {}).items():
            lines.append(f"  {name:<40} {layer.params[key].shape!s:<16} {layer.params[key].size:>10,}")
        return "\n".join(lines)

    # -- compiling and training ------------------------------------------------------------------------------

    @property
    def output_names(self) -> list[str]:
        """The names of the outputs of a model with several outputs; empty for a model with one."""
        return []

    def compile(
        self,
        optimizer: str | dict[str, Any] | Optimizer = "adam",
        loss: Any = "softmax_cross_entropy",
        metrics: Any = (),
        loss_weights: Any = None,
    ) -> Network:
        """Choose the optimiser, the loss and the metrics reported besides the loss.

        A model with several outputs takes one loss for all outputs, a list (in output order) or a dict by
        output name (None: that output is not trained); ``loss_weights`` likewise (default 1 each); metrics as
        one list for every output, a list of lists or a dict. The total loss is ``Σ weight × output loss``, and
        each output's loss and metrics are logged as ``<output>_loss`` and ``<output>_<metric>``.

        Only float32 and float64 are accepted: in float16 Adam's second moments and the loss's sums underflow
        and training turns to NaN within an epoch, so a half-precision model is refused here, before any work.
        """
        if self.dtype.name not in DTYPES:
            raise InputError(
                f"dtype {self.dtype.name} is not supported; use float32 (training) or float64 (gradient checks)"
            )
        names = self.output_names
        if names:
            self.loss, self.metrics = compile_outputs(names, loss, loss_weights, metrics)
        elif loss_weights is not None:
            raise InputError("loss_weights needs a model with several outputs; this one has one")
        else:
            self.loss = get_loss(loss)
            self.metrics = [get_metric(m) for m in metrics]
        self.optimizer = get_optimizer(optimizer)
        if self.flat_params is not None:
            self.optimizer.segments = self.segments
        return self

    def targets(self, y: Any) -> Any:
        """``y`` as the loss takes it: one array, or for several outputs a list in output order (from a list
        or a dict by output name)."""
        names = self.output_names
        if not names:
            return np.asarray(y)
        if isinstance(y, dict):
            missing = [name for name in names if name not in y]
            if missing:
                raise InputError(f"no targets for output '{missing[0]}'; the outputs are {', '.join(names)}")
            y = [y[name] for name in names]
        if not isinstance(y, list | tuple) or len(y) != len(names):
            raise InputError(
                f"the model has {len(names)} outputs ({', '.join(names)}): give y as a list of "
                f"{len(names)} arrays or a dict by output name"
            )
        return [np.asarray(a) for a in y]

    def _require_compiled(self) -> tuple[Loss, Optimizer]:
        if self.loss is None or self.optimizer is None:
            raise StateError("compile the model (optimizer, loss) before training it")
        return self.loss, self.optimizer

    def train_step(self, x: Any, y: Any, sample_weight: Any = None) -> tuple[float, Any]:
        """One forward, backward and optimiser update on a batch; returns the loss and the raw outputs."""
        loss, optimizer = self._require_compiled()
        x = cast_input(x, self.dtype)
        self._ensure_built(x)
        out = self.forward(x, training=True)
        mask = self.output_mask
        value = loss.forward(out, y, mask, sample_weight)
        self.backward(loss.backward())
        optimizer.step(*self.packed(), self.decayed)
        return value, out

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None) -> float:
        return self.train_step(x, self.targets(y), sample_weight)[0]

    def fit(
        self,
        x: Any,
        y: Any = None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: Any = None,
        callbacks: Sequence[Any] = (),
        shuffle: bool = True,
        verbose: int = 1,
        seed: int | None = None,
        tbptt: int | None = None,
        initial_epoch: int = 0,
        sample_weight: Any = None,
        class_weight: dict[Any, float] | None = None,
        validation_split: float = 0.0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
    ) -> Any:
        """Train in the Keras manner; returns the :class:`~sudoless.nn.callbacks.History`.

        ``x`` and ``y`` are arrays (lists of them for several inputs or outputs), or ``x`` is a
        :class:`~sudoless.nn.loader.Loader`, an iterable or a generator of ``(x, y)`` or ``(x, y, sample_weight)``
        batches and ``y`` is None: ``steps_per_epoch`` batches make an epoch (a Loader or another iterable that
        starts again gives one pass per epoch without it). ``validation_data`` is ``(x, y)``,
        ``(x, y, sample_weight)`` or an iterator (``validation_steps`` batches of it per epoch);
        ``validation_split`` holds out the last fraction of the arrays instead, before shuffling.

        ``sample_weight`` (one weight per example; a list or dict per output for several outputs) scales each
        example's share of the loss, which stays divided by the number of examples as in Keras;
        ``class_weight`` ({class: weight}) does the same by each example's class. Metrics are not weighted.

        ``tbptt=k`` trains long sequences by truncated back-propagation through time: each batch is cut into
        chunks of k steps, the recurrent state is carried from chunk to chunk without gradients, and the
        optimiser steps after every chunk.
        """
        return training.fit(
            self,
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            callbacks=callbacks,
            shuffle=shuffle,
            verbose=verbose,
            seed=seed,
            tbptt=tbptt,
            initial_epoch=initial_epoch,
            sample_weight=sample_weight,
            class_weight=class_weight,
            validation_split=validation_split,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
        )

    def evaluate(
        self, x: Any, y: Any = None, batch_size: int = 256, sample_weight: Any = None, steps: int | None = None
    ) -> dict[str, float]:
        """Loss and metrics over a whole data set (or ``steps`` batches of an iterator), in inference mode."""
        return training.evaluate(self, x, y, batch_size=batch_size, sample_weight=sample_weight, steps=steps)

    def predict(self, x: Any, batch_size: int = 256, activate: bool = False, steps: int | None = None) -> Any:
        """Outputs for ``x`` in inference mode (a list for several outputs); ``activate`` applies the loss's
        link (softmax, sigmoid). ``x`` may be an iterator or a Loader (``steps`` batches of it, or all)."""
        ensure_threads()
        if training.is_stream(x):
            batches: Any = training.predict_batches(self, x, steps)
        else:
            x = cast_input(x, self.dtype)
            batches = (take(x, slice(start, start + batch_size)) for start in range(0, count(x), batch_size))
        outputs = max(1, len(self.output_names))
        parts: list[list[Array]] = [[] for _ in range(outputs)]
        for xb in batches:
            self._ensure_built(xb)
            out = self.forward(xb, training=False)
            for part, value in zip(parts, out if self.output_names else [out], strict=True):
                part.append(np.array(value))
        result: Any = [np.concatenate(p) if p else np.empty((0,), self.dtype) for p in parts]
        result = result if self.output_names else result[0]
        if activate and self.loss is not None:
            result = self.loss.activate(result)
        return result

    # -- persistence -----------------------------------------------------------------------------------------

    def save(self, path: str | Path, include_optimizer: bool = True) -> Path:
        """Write ``architecture.json`` and ``weights.npz`` into the directory ``path``."""
        return checkpoints.save_model(self, path, include_optimizer=include_optimizer)

    def to_onnx(self, path: str | Path, opset: int | None = None) -> Path:
        """Write the model as an ONNX file (float32); see :func:`sudoless.nn.onnx.export_onnx`."""
        from sudoless.nn.onnx.writer import export_onnx

        return export_onnx(self, path, opset=opset)

    def compile_config(self) -> dict[str, Any] | None:
        if self.loss is None or self.optimizer is None:
            return None
        if isinstance(self.loss, WeightedLosses):
            return {"optimizer": self.optimizer.get_config(), **self.loss.compile_config(self.metrics)}
        return {
            "optimizer": self.optimizer.get_config(),
            "loss": loss_config(self.loss),
            "metrics": [metric_config(m) for m in self.metrics],
        }


@register
class Sequential(Network):
    """Layers applied one after another; the usual way to build a model.

    Layers without a name get ``<class>_<index>`` so that weight files stay readable and stable.
    """

    def __init__(
        self,
        layers: Sequence[Layer | dict[str, Any]] = (),
        seed: int = 0,
        dtype: str = "float32",
        name: str | None = None,
    ) -> None:
        super().__init__(seed=seed, dtype=dtype, name=name)
        self.layers: list[Layer] = []
        for layer in layers:
            self.add(layer)

    def add(self, layer: Layer | dict[str, Any]) -> None:
        if isinstance(layer, dict):
            layer = layer_from_config(layer)
        if self.built:
            raise StateError("cannot add layers to a model that is already built")
        if getattr(layer, "return_state", False):
            raise InputError("a layer with return_state gives several outputs: build the model with the functional API")
        if any(layer is other for other in self.layers):
            raise InputError("the same layer object appears twice in a Sequential; create a second layer")
        if layer.name is None:
            layer.name = f"{type(layer).__name__.lower()}_{len(self.layers)}"
        self.layers.append(layer)

    def sublayers(self) -> list[Layer]:
        return self.layers

    def _build_layers(self, input_shape: Any, rng: np.random.Generator) -> Any:
        if not self.layers:
            raise InputError("a Sequential model needs at least one layer")
        shape = input_shape
        for index, layer in enumerate(self.layers):
            layer.input_grad = self.input_grad if index == 0 else True
            shape = layer.build(shape, rng, self.dtype)
        return shape

    def _infer_shape(self, input_shape: Any) -> Any:
        for layer in self.layers:
            input_shape = layer.output_shape(input_shape)
        return input_shape

    def forward(self, x: Any, training: bool = False, mask: Array | None = None) -> Any:
        for layer in self.layers:
            x = layer.forward(x, training, mask)
            mask = layer.compute_mask(mask)
        self.output_mask = mask
        return x

    def backward(self, dy: Array) -> Any:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
            if dy is None:
                break
        return dy

    def compute_mask(self, mask: Array | None) -> Array | None:
        return self.output_mask

    def get_config(self) -> dict[str, Any]:
        return {
            "layers": [layer_config(layer) for layer in self.layers],
            "seed": self.seed,
            "dtype": self.dtype.name,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        config = dict(config)
        layers = [layer_from_config(spec) for spec in config.pop("layers", [])]
        return cls(layers, **config)


def load_model(path: str | Path, compile: bool = True) -> Network:
    """Rebuild a model saved by :meth:`Network.save` with its weights (and, if it was compiled, its optimiser
    and loss); the file format is :mod:`sudoless.nn.checkpoints`'."""
    document = checkpoints.read_architecture(path)
    model = layer_from_config(document["model"])
    if not isinstance(model, Network):
        raise InputError(f"{path}: the saved object is a {type(model).__name__}, not a model")
    model.build(checkpoints.saved_shape(document["input_shape"]))
    params, layer_state, optimizer_state = checkpoints.read_weights(path)
    model.set_weights(params)
    model.set_state(layer_state)
    settings = document.get("compile")
    if compile and settings:
        model.compile(
            saved_optimizer(settings["optimizer"]),
            settings["loss"],
            settings.get("metrics", []),
            loss_weights=settings.get("loss_weights"),
        )
        if optimizer_state:
            model._require_compiled()[1].load_state_arrays(optimizer_state)
    return model
