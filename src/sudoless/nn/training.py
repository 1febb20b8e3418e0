"""The training loop behind ``Network.fit`` and ``Network.evaluate``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.callbacks import Callback, History, ProgressBar
from sudoless.nn.layers.base import Layer
from sudoless.nn.layers.recurrent import Recurrent
from sudoless.nn.model import cast_input
from sudoless.nn.threads import ensure_threads

if TYPE_CHECKING:
    from sudoless.nn.model import Network

Array = np.ndarray


def take(x: Any, index: Array | slice) -> Any:
    """Rows ``index`` of an array, or of each array in a list (multi-input models)."""
    if isinstance(x, list | tuple):
        return [a[index] for a in x]
    return x[index]


def count(x: Any) -> int:
    return len(x[0]) if isinstance(x, list | tuple) else len(x)


def recurrent_layers(layer: Layer) -> list[Recurrent]:
    found = [layer] if isinstance(layer, Recurrent) else []
    for sub in layer.sublayers():
        found.extend(recurrent_layers(sub))
    return found


def _batch_count(model: Network, out: Array) -> float:
    loss = model.loss
    total = getattr(loss, "_total", None)
    return float(total) if total is not None else float(len(out))


def fit(model: Network, x: Any, y: Array, epochs: int = 1, batch_size: int = 32,
        validation_data: tuple[Any, Array] | None = None, callbacks: Sequence[Callback] = (), shuffle: bool = True,
        verbose: int = 1, seed: int | None = None, tbptt: int | None = None, initial_epoch: int = 0) -> History:
    loss, _ = model._require_compiled()
    ensure_threads()
    x = cast_input(x, model.dtype)
    y = np.asarray(y)
    n = count(x)
    if n != len(y):
        raise InputError(f"x has {n} examples but y has {len(y)}")
    if n == 0:
        raise InputError("no training examples")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    model._ensure_built(take(x, slice(0, 1)))
    rng = np.random.default_rng(model.seed if seed is None else seed)
    steps = -(-n // batch_size)
    history = History()
    hooks: list[Callback] = [history, *callbacks]
    if verbose:
        hooks.append(ProgressBar(epochs, steps))
    for hook in hooks:
        hook.set_model(model)
    model.stop_training = False
    recurrent = recurrent_layers(model)
    if tbptt is not None and tbptt < 1:
        raise InputError(f"tbptt must be a positive number of time steps, got {tbptt}")
    for hook in hooks:
        hook.on_train_begin({})
    try:
        for epoch in range(initial_epoch, epochs):
            for hook in hooks:
                hook.on_epoch_begin(epoch, {})
            for metric in model.metrics:
                metric.reset()
            order = rng.permutation(n) if shuffle else np.arange(n)
            loss_sum = weight_sum = 0.0
            for step in range(steps):
                index = order[step * batch_size:(step + 1) * batch_size]
                xb, yb = take(x, index), y[index]
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
                for hook in hooks:
                    hook.on_batch_end(step, logs)
                if model.stop_training:
                    break
            logs["lr"] = model.optimizer.learning_rate  # type: ignore[union-attr]
            if validation_data is not None:
                scores = evaluate(model, validation_data[0], validation_data[1], batch_size=max(batch_size, 256))
                logs.update({f"val_{k}": v for k, v in scores.items()})
            for hook in hooks:
                hook.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        for hook in hooks:
            hook.on_train_end({})
    return history


def _tbptt_step(model: Network, xb: Any, yb: Array, length: int,
                recurrent: list[Recurrent]) -> list[tuple[float, Array, Array, Array | None]]:
    if isinstance(xb, list) or np.ndim(xb) < 2:
        raise InputError("truncated BPTT needs one (batch, time, ...) input")
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


def evaluate(model: Network, x: Any, y: Array, batch_size: int = 256) -> dict[str, float]:
    loss, _ = model._require_compiled()
    ensure_threads()
    x = cast_input(x, model.dtype)
    y = np.asarray(y)
    model._ensure_built(take(x, slice(0, 1)))
    n = count(x)
    metrics = [type(m)() for m in model.metrics]
    loss_sum = weight_sum = 0.0
    for start in range(0, n, batch_size):
        xb, yb = take(x, slice(start, start + batch_size)), y[start:start + batch_size]
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
