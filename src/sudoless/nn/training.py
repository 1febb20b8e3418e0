"""The training loop behind ``Network.fit`` and ``Network.evaluate``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.arrays import cast_input, count, take
from sudoless.nn.callbacks import Callback, History, ProgressBar
from sudoless.nn.layers.base import Layer
from sudoless.nn.layers.recurrent import Recurrent
from sudoless.nn.threads import ensure_threads

if TYPE_CHECKING:
    from sudoless.nn.model import Network

Array = np.ndarray


def recurrent_layers(layer: Layer) -> list[Recurrent]:
    found = [layer] if isinstance(layer, Recurrent) else []
    for sub in layer.sublayers():
        found.extend(recurrent_layers(sub))
    return found


def _batch_count(model: Network, out: Array) -> float:
    loss = model.loss
    total = getattr(loss, "_total", None)
    return float(total) if total is not None else float(len(out))


def fit(
    model: Network,
    x: Any,
    y: Any,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: tuple[Any, Array] | None = None,
    callbacks: Sequence[Callback] = (),
    shuffle: bool = True,
    verbose: int = 1,
    seed: int | None = None,
    tbptt: int | None = None,
    initial_epoch: int = 0,
) -> History:
    loss, _ = model._require_compiled()
    ensure_threads()
    x = cast_input(x, model.dtype)
    y = model.targets(y)
    n = count(x)
    if n != count(y):
        raise InputError(f"x has {n} examples but y has {count(y)}")
    if n == 0:
        raise InputError("no training examples")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    model._ensure_built(take(x, slice(0, 1)))
    rng = np.random.default_rng(model.seed if seed is None else seed)
    steps = -(-n // batch_size)
    if tbptt is not None and tbptt < 1:
        raise InputError(f"tbptt must be a positive number of time steps, got {tbptt}")
    recurrent = recurrent_layers(model)
    loop = CallbackLoop(
        model,
        callbacks,
        epochs=epochs,
        steps=steps,
        verbose=verbose,
        validation_data=validation_data,
        batch_size=batch_size,
    )
    with loop:
        for epoch in range(initial_epoch, epochs):
            loop.begin_epoch(epoch)
            for metric in model.metrics:
                metric.reset()
            order = rng.permutation(n) if shuffle else np.arange(n)
            loss_sum = weight_sum = 0.0
            for step in range(steps):
                index = order[step * batch_size : (step + 1) * batch_size]
                xb, yb = take(x, index), take(y, index)
                if tbptt:
                    pieces = _tbptt_step(model, xb, yb, tbptt, recurrent)
                else:
                    value, out = model.train_step(xb, yb)
                    pieces = [(value, out, yb, model.output_mask)]
                for value, out, yt, mask in pieces:
                    items = _batch_count(model, out)
                    loss_sum += value * items
                    weight_sum += items
                    for metric in model.metrics:
                        metric.update(out, yt, mask, loss, value, items)
                logs = {"loss": loss_sum / weight_sum, **{m.name: m.result() for m in model.metrics}}
                loop.end_batch(step, logs)
                if model.stop_training:
                    break
            loop.end_epoch(epoch, logs)
            if model.stop_training:
                break
    return loop.history


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
        steps: int,
        verbose: int,
        validation_data: tuple[Any, Any] | None,
        batch_size: int,
        history: History | None = None,
    ) -> None:
        self.model = model
        self.history = History() if history is None else history
        self.callbacks: list[Callback] = [self.history, *callbacks]
        if verbose:
            self.callbacks.append(ProgressBar(epochs, steps))
        self.validation_data = validation_data
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
            x, y = self.validation_data
            scores = evaluate(self.model, x, y, batch_size=self.validation_batch)
            logs.update({f"val_{k}": v for k, v in scores.items()})
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)


def _tbptt_step(
    model: Network, xb: Any, yb: Array, length: int, recurrent: list[Recurrent]
) -> list[tuple[float, Array, Array, Array | None]]:
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
            value, out = model.train_step(xb[:, part], yt)
            pieces.append((value, out, yt, model.output_mask))
    finally:
        for layer, flag in zip(recurrent, flags, strict=True):
            layer.stateful = flag
            layer.reset_states()
    return pieces


def evaluate(model: Network, x: Any, y: Any, batch_size: int = 256) -> dict[str, float]:
    loss, _ = model._require_compiled()
    ensure_threads()
    x = cast_input(x, model.dtype)
    y = model.targets(y)
    model._ensure_built(take(x, slice(0, 1)))
    n = count(x)
    metrics = [m.fresh() for m in model.metrics]
    loss_sum = weight_sum = 0.0
    for start in range(0, n, batch_size):
        part = slice(start, start + batch_size)
        xb, yb = take(x, part), take(y, part)
        out = model.forward(xb, training=False)
        value = loss.forward(out, yb, model.output_mask)
        items = _batch_count(model, out)
        loss_sum += value * items
        weight_sum += items
        for metric in metrics:
            metric.update(out, yb, model.output_mask, loss, value, items)
    if weight_sum == 0:
        raise InputError("no examples to evaluate")
    return {"loss": loss_sum / weight_sum, **{m.name: m.result() for m in metrics}}
