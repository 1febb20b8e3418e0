"""The training loop behind ``Network.fit`` and ``Network.evaluate``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.arrays import cast_input, count, take
from sudoless.nn.callbacks import Callback, History, ProgressBar
from sudoless.nn.layers.base import Layer
from sudoless.nn.layers.recurrent import Recurrent
from sudoless.nn.loader import Loader
from sudoless.nn.threads import ensure_threads

if TYPE_CHECKING:
    from sudoless.nn.model import Network

Array = np.ndarray


def recurrent_layers(layer: Layer) -> list[Recurrent]:
    found = [layer] if isinstance(layer, Recurrent) else []
    for sub in layer.sublayers():
        found.extend(recurrent_layers(sub))
    return found


STREAM_TARGETS = "with an iterator or a Loader as x, the batches carry y (and sample weights): leave y None"


def _is_pair(data: Any) -> bool:
    return isinstance(data, tuple | list) and len(data) in (2, 3)


def _batch_count(model: Network, out: Array) -> float:
    loss = model.loss
    total = getattr(loss, "_total", None)
    return float(total) if total is not None else float(len(out))


def fit(
    model: Network,
    x: Any,
    y: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: Any = None,
    callbacks: Sequence[Callback] = (),
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
) -> History:
    loss, _ = model._require_compiled()
    ensure_threads()
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if tbptt is not None and tbptt < 1:
        raise InputError(f"tbptt must be a positive number of time steps, got {tbptt}")
    if not 0.0 <= validation_split < 1.0:
        raise InputError(f"validation_split is the fraction of examples held out, in [0, 1); got {validation_split}")
    weighting = ClassWeights.of(model, class_weight, sample_weight)
    source: BatchSource
    if is_stream(x):
        if y is not None or sample_weight is not None:
            raise InputError(STREAM_TARGETS)
        if validation_split:
            raise InputError("validation_split needs arrays; give an iterator's validation data as validation_data")
        source = StreamSource(model, x, steps_per_epoch, weighting)
    else:
        if steps_per_epoch is not None:
            raise InputError("steps_per_epoch is for iterators and Loaders; with arrays an epoch is one pass")
        if y is None:
            raise InputError("fit needs targets y with array inputs")
        x, y = cast_input(x, model.dtype), model.targets(y)
        if validation_split:
            if validation_data is not None:
                raise InputError("give validation_data or validation_split, not both")
            x, y, sample_weight, validation_data = split_off(x, y, sample_weight, validation_split)
        rng = np.random.default_rng(model.seed if seed is None else seed)
        source = ArraySource(model, x, y, sample_weight, batch_size, shuffle, rng, weighting)
    recurrent = recurrent_layers(model)
    loop = CallbackLoop(
        model,
        callbacks,
        epochs=epochs,
        steps=source.steps,
        verbose=verbose,
        validation_data=validation_data,
        batch_size=batch_size,
        validation_steps=validation_steps,
    )
    with loop:
        for epoch in range(initial_epoch, epochs):
            batches = source.epoch()
            loop.begin_epoch(epoch)
            for metric in model.metrics:
                metric.reset()
            loss_sum = weight_sum = 0.0
            logs: dict[str, Any] = {}
            try:
                for step, (xb, yb, wb) in enumerate(batches):
                    if tbptt:
                        pieces = _tbptt_step(model, xb, yb, wb, tbptt, recurrent)
                    else:
                        value, out = model.train_step(xb, yb, wb)
                        pieces = [(value, out, yb, model.output_mask, _batch_count(model, out))]
                    for value, out, yt, mask, items in pieces:
                        loss_sum += value * items
                        weight_sum += items
                        for metric in model.metrics:
                            metric.update(out, yt, mask, loss, value, items)
                    logs = {"loss": loss_sum / weight_sum, **{m.name: m.result() for m in model.metrics}}
                    loop.end_batch(step, logs)
                    if model.stop_training:
                        break
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
            if not logs:
                warnings.warn(
                    f"the training data ran out at epoch {epoch + 1}: training stops; give an iterator that yields "
                    "steps_per_epoch × epochs batches, or a Loader (it starts again every epoch)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                break
            loop.end_epoch(epoch, logs)
            if model.stop_training or source.exhausted:
                break
    return loop.history


def split_off(x: Any, y: Any, sample_weight: Any, fraction: float) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """Keras's ``validation_split``: the last ``fraction`` of the examples, as given (before any shuffling),
    become the validation data; the first ``floor(n × (1 - fraction))`` are trained on."""
    n = count(x)
    cut = int(math.floor(n * (1.0 - fraction)))
    if cut == 0 or cut == n:
        raise InputError(f"validation_split {fraction} of {n} examples leaves an empty training or validation set")
    head, tail = slice(0, cut), slice(cut, n)
    held = (take(x, tail), take(y, tail)) + (() if sample_weight is None else (take(sample_weight, tail),))
    weights = None if sample_weight is None else take(sample_weight, head)
    return take(x, head), take(y, head), weights, held


def is_stream(x: Any) -> bool:
    """True for what fit reads batch by batch: a :class:`~sudoless.nn.loader.Loader`, a generator or any other
    iterable that is not an array or a list of arrays (a model's several inputs)."""
    if isinstance(x, Loader):
        return True
    if isinstance(x, np.ndarray | list | tuple | dict | str | bytes) or hasattr(x, "__array__"):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


class ClassWeights:
    """``class_weight`` turned into per-example sample weights, as Keras does: the class of an example is its
    integer label, the arg-max of a one-hot (or probability) target, or its rounded single value (binary);
    classes the dict does not name weigh 1. Sequence targets give a weight per time step."""

    def __init__(self, weights: dict[int, float]) -> None:
        self.weights = weights
        top = max(max(weights), 0) + 1
        self.table = np.ones(top, np.float64)
        for label, weight in weights.items():
            if label >= 0:
                self.table[label] = weight

    @classmethod
    def of(cls, model: Network, class_weight: Any, sample_weight: Any) -> ClassWeights | None:
        if class_weight is None:
            return None
        if sample_weight is not None:
            raise InputError("give class_weight or sample_weight, not both (multiply them into sample_weight)")
        if model.output_names:
            raise InputError("class_weight needs a model with one output; give per-output sample weights instead")
        if not isinstance(class_weight, dict) or not class_weight:
            raise InputError("class_weight is a mapping from class index to weight, such as {0: 1.0, 1: 5.0}")
        try:
            weights = {int(k): float(v) for k, v in class_weight.items()}
        except (TypeError, ValueError):
            raise InputError(f"class_weight maps class indices to numbers; got {class_weight!r}") from None
        return cls(weights)

    def __call__(self, y: Any) -> Array:
        y = np.asarray(y)
        if y.dtype.kind == "f" and y.ndim >= 2 and y.shape[-1] > 1:
            labels = np.argmax(y, axis=-1)
        else:
            if y.ndim >= 2 and y.shape[-1] == 1:
                y = y[..., 0]
            labels = np.rint(y).astype(np.int64)
        found = labels.clip(0, len(self.table) - 1)
        known = (labels >= 0) & (labels < len(self.table))
        return np.where(known, self.table[found], 1.0)


class BatchSource:
    """Where an epoch's batches come from: ``epoch()`` yields ``(x, y, sample_weight)`` in the model's dtype.

    ``steps`` is the number of batches per epoch when it is known (for the progress bar); ``exhausted`` is set
    when an iterator ran dry, which ends training after that epoch.
    """

    steps: int | None = None
    exhausted = False

    def epoch(self) -> Iterator[tuple[Any, Any, Any]]:
        raise NotImplementedError


class ArraySource(BatchSource):
    """Arrays in memory, in a new random order each epoch (one generator for the whole run, so ``seed`` fixes
    every epoch's order, as it always has)."""

    def __init__(
        self,
        model: Network,
        x: Any,
        y: Any,
        sample_weight: Any,
        batch_size: int,
        shuffle: bool,
        rng: np.random.Generator | None,
        weighting: ClassWeights | None = None,
    ) -> None:
        n = count(x)
        if n != count(y):
            raise InputError(f"x has {n} examples but y has {count(y)}")
        if n == 0:
            raise InputError("no examples")
        if sample_weight is not None:
            sample_weight = _weights_like(model, sample_weight, n)
        elif weighting is not None:
            sample_weight = weighting(y)
        self.x, self.y, self.sample_weight, self.n = x, y, sample_weight, n
        self.batch_size, self.shuffle, self.rng = batch_size, shuffle, rng
        self.steps: int = -(-n // batch_size)
        model._ensure_built(take(x, slice(0, 1)))

    def epoch(self) -> Iterator[tuple[Any, Any, Any]]:
        order = self.rng.permutation(self.n) if self.shuffle and self.rng is not None else np.arange(self.n)
        for step in range(self.steps):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            weights = None if self.sample_weight is None else take(self.sample_weight, index)
            yield take(self.x, index), take(self.y, index), weights


def _weights_like(model: Network, sample_weight: Any, n: int) -> Any:
    """Sample weights as float arrays, one per output when given as a list or a dict by output name."""
    names = model.output_names
    if isinstance(sample_weight, dict):
        if not names:
            raise InputError("sample weights by output name need a model with several outputs")
        unknown = sorted(set(sample_weight) - set(names))
        if unknown:
            raise InputError(f"sample_weight: unknown output '{unknown[0]}'; the outputs are {', '.join(names)}")
        sample_weight = [sample_weight.get(name) for name in names]
    if isinstance(sample_weight, list | tuple):
        if not names or len(sample_weight) != len(names):
            raise InputError(
                f"{len(sample_weight)} sample weight arrays for {max(len(names), 1)} output(s); give one array, "
                "or one per output"
            )
        return [None if w is None else _one_weight(w, n) for w in sample_weight]
    return _one_weight(sample_weight, n)


def _one_weight(weights: Any, n: int) -> Array:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 0 or len(w) != n:
        raise InputError(f"sample_weight needs one weight per example ({n}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("sample weights must be finite and not negative")
    return w


class StreamSource(BatchSource):
    """Batches from a :class:`~sudoless.nn.loader.Loader`, an iterable or a generator.

    Something that starts again when iterated anew (a Loader, a list of batches) gives each epoch a fresh pass,
    cut at ``steps_per_epoch`` if given; a one-shot iterator or generator is read on from where the last epoch
    stopped, ``steps_per_epoch`` batches per epoch (without it, the first epoch reads it to its end).
    """

    def __init__(self, model: Network, data: Any, steps_per_epoch: int | None, weighting: ClassWeights | None) -> None:
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise InputError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
        self.model, self.data, self.limit, self.weighting = model, data, steps_per_epoch, weighting
        # an iterator (it has __next__) is read on; an iterable that is not one starts again when iterated
        self.restarts = not hasattr(data, "__next__")
        self.stream: Iterator[Any] | None = None if self.restarts else iter(data)
        known = len(data) if self.restarts and hasattr(data, "__len__") else None
        self.steps = steps_per_epoch if steps_per_epoch is not None else known

    def epoch(self) -> Iterator[tuple[Any, Any, Any]]:
        it = iter(self.data) if self.restarts else self.stream
        assert it is not None
        taken = 0
        try:
            while self.limit is None or taken < self.limit:
                try:
                    batch = next(it)
                except StopIteration:
                    if not self.restarts and (self.limit is not None or taken == 0):
                        self.exhausted = True
                    return
                taken += 1
                yield self.unpack(batch)
        finally:
            if self.restarts:
                close = getattr(it, "close", None)
                if close is not None:
                    close()

    def unpack(self, batch: Any) -> tuple[Any, Any, Any]:
        """``(x, y)`` or ``(x, y, sample_weight)`` from one yielded batch, cast and checked."""
        if not isinstance(batch, tuple | list) or len(batch) not in (2, 3):
            raise InputError(
                "each batch of training data must be a tuple (x, y) or (x, y, sample_weight); got "
                f"{type(batch).__name__}"
            )
        model = self.model
        xb, yb = cast_input(batch[0], model.dtype), model.targets(batch[1])
        n = count(xb)
        if n != count(yb):
            raise InputError(f"a batch has {n} inputs but {count(yb)} targets")
        model._ensure_built(take(xb, slice(0, 1)))
        wb = batch[2] if len(batch) == 3 else None
        if wb is not None:
            if self.weighting is not None:
                raise InputError("the batches carry sample weights and fit was given class_weight: choose one")
            wb = _weights_like(model, wb, n)
        elif self.weighting is not None:
            wb = self.weighting(yb)
        return xb, yb, wb


class CallbackLoop:
    """The callback side of one training run, shared by ``fit`` and ``fit_spark``.

    The callbacks run in a fixed order: the :class:`History` first (so every other callback sees the epoch it
    records), then the user's, then the progress bar. Used as a context manager it starts the run and always
    ends it (``on_train_end`` runs after an error too, so a progress bar is closed and EarlyStopping restores
    the best weights). ``end_epoch`` completes the epoch's logs with the learning rate and the validation
    scores before handing them on, so both training paths report the same keys.
    """

    def __init__(
        self,
        model: Network,
        callbacks: Sequence[Callback],
        *,
        epochs: int,
        steps: int | None,
        verbose: int,
        validation_data: Any,
        batch_size: int,
        history: History | None = None,
        validation_steps: int | None = None,
    ) -> None:
        self.model = model
        self.history = History() if history is None else history
        self.callbacks: list[Callback] = [self.history, *callbacks]
        if verbose:
            self.callbacks.append(ProgressBar(epochs, steps))
        if validation_data is not None and not is_stream(validation_data) and not _is_pair(validation_data):
            raise InputError("validation_data is (x, y), (x, y, sample_weight), an iterator or a Loader")
        self.validation_data = validation_data
        self.validation_steps = validation_steps
        self.validation_batch = max(batch_size, 256)

    def __enter__(self) -> CallbackLoop:
        for callback in self.callbacks:
            callback.set_model(self.model)
        self.model.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin({})
        return self

    def __exit__(self, *exc: object) -> None:
        for callback in self.callbacks:
            callback.on_train_end({})

    def begin_epoch(self, epoch: int) -> None:
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, {})

    def end_batch(self, step: int, logs: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback.on_batch_end(step, logs)

    def end_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        optimizer = self.model.optimizer
        if optimizer is not None:  # always, as fit refuses a model that is not compiled
            logs["lr"] = optimizer.learning_rate
        if self.validation_data is not None:
            data = self.validation_data
            if is_stream(data):
                scores = evaluate(self.model, data, steps=self.validation_steps)
            else:
                weights = data[2] if len(data) == 3 else None
                scores = evaluate(self.model, data[0], data[1], self.validation_batch, sample_weight=weights)
            logs.update({f"val_{k}": v for k, v in scores.items()})
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)


def _tbptt_step(
    model: Network, xb: Any, yb: Array, wb: Any, length: int, recurrent: list[Recurrent]
) -> list[tuple[float, Array, Array, Array | None, float]]:
    if isinstance(xb, list) or np.ndim(xb) < 2:
        raise InputError("truncated BPTT needs one (batch, time, ...) input")
    if isinstance(yb, list):
        raise InputError("truncated BPTT needs a model with one output")
    flags = [layer.stateful for layer in recurrent]
    model.set_stateful(True)
    model.reset_states()
    pieces = []
    try:
        for start in range(0, xb.shape[1], length):
            part = slice(start, start + length)
            yt = yb[:, part]
            wt = wb if wb is None or np.ndim(wb) < 2 else wb[:, part]
            value, out = model.train_step(xb[:, part], yt, wt)
            # each window's own item count (the loss's count is the last window's once the loop is done)
            pieces.append((value, out, yt, model.output_mask, _batch_count(model, out)))
    finally:
        for layer, flag in zip(recurrent, flags, strict=True):
            layer.stateful = flag
            layer.reset_states()
    return pieces


def evaluate(
    model: Network,
    x: Any,
    y: Any = None,
    batch_size: int = 256,
    sample_weight: Any = None,
    steps: int | None = None,
) -> dict[str, float]:
    """Loss (weighted by ``sample_weight`` when given, as in training) and metrics over a data set, or over
    ``steps`` batches of an iterator or a Loader (all of one pass without it)."""
    loss, _ = model._require_compiled()
    ensure_threads()
    source: BatchSource
    if is_stream(x):
        if y is not None or sample_weight is not None:
            raise InputError(STREAM_TARGETS)
        source = StreamSource(model, x, steps, None)
    else:
        if y is None:
            raise InputError("evaluate needs targets y with array inputs")
        x, y = cast_input(x, model.dtype), model.targets(y)
        if count(x) == 0:
            raise InputError("no examples to evaluate")
        source = ArraySource(model, x, y, sample_weight, batch_size, False, None)
    metrics = [m.fresh() for m in model.metrics]
    loss_sum = weight_sum = 0.0
    for xb, yb, wb in source.epoch():
        out = model.forward(xb, training=False)
        value = loss.forward(out, yb, model.output_mask, wb)
        items = _batch_count(model, out)
        loss_sum += value * items
        weight_sum += items
        for metric in metrics:
            metric.update(out, yb, model.output_mask, loss, value, items)
    if weight_sum == 0:
        ran_out = " (the iterator ran out: give steps, or a Loader, which starts again)" if is_stream(x) else ""
        raise InputError(f"no examples to evaluate{ran_out}")
    return {"loss": loss_sum / weight_sum, **{m.name: m.result() for m in metrics}}


def predict_batches(model: Network, x: Any, steps: int | None = None) -> Iterator[Any]:
    """The input part of each batch of an iterator or a Loader: ``x``, or the first item of a tuple."""
    data = iter(x)
    taken = 0
    while steps is None or taken < steps:
        try:
            batch = next(data)
        except StopIteration:
            return
        taken += 1
        yield cast_input(batch[0] if isinstance(batch, tuple) else batch, model.dtype)
