"""Callbacks: code that runs at the edges of epochs and batches during ``fit`` (Keras' hooks and names)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoless.errors import InputError

if TYPE_CHECKING:
    from sudoless.nn.model import Network


class Callback:
    """Override any hook; ``self.model`` is set before training starts."""

    model: Network

    def set_model(self, model: Network) -> None:
        self.model = model

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...

    def on_train_end(self, logs: dict[str, Any]) -> None: ...


class History(Callback):
    """Per-epoch logs: ``history["loss"]``, ``history["val_accuracy"]`` ... (returned by ``fit``)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def final(self) -> dict[str, float]:
        return {key: values[-1] for key, values in self.history.items()}


def _better(mode: str, monitor: str) -> str:
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in ("acc", "auc")) else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch, not its last one.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(float(min_delta))
        self.mode = _better(mode, monitor)
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_weights: np.ndarray | None = None
        self.best_epoch = -1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise InputError(f"early stopping monitors '{self.monitor}', which is not among {', '.join(logs)}")
        value = float(logs[self.monitor])
        improved = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if improved:
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore_best_weights and self.model.flat_params is not None:
                self.best_weights = self.model.flat_params.copy()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.best_weights is not None and self.model.flat_params is not None:
            self.model.flat_params[...] = self.best_weights


class ModelCheckpoint(Callback):
    """Save the model after each epoch (``{epoch}`` and log keys may appear in ``path``), or only on improvement."""

    def __init__(
        self, path: str | Path, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"
    ) -> None:
        self.path = str(path)
        self.monitor, self.save_best_only = monitor, save_best_only
        self.mode = _better(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[Path] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.save_best_only:
            if self.monitor not in logs:
                raise InputError(f"checkpoint monitors '{self.monitor}', which is not among {', '.join(logs)}")
            value = float(logs[self.monitor])
            if not (value < self.best if self.mode == "min" else value > self.best):
                return
            self.best = value
        target = Path(self.path.format(epoch=epoch + 1, **logs))
        self.model.save(target)
        self.saved.append(target)


class ProgressBar(Callback):
    """A rich progress bar on stderr: one bar per epoch with the running loss and metrics."""

    def __init__(self, epochs: int, steps: int) -> None:
        self.epochs, self.steps = epochs, steps

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self.progress.start()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self.task = self.progress.add_task("train", total=self.steps, epoch=f"{epoch + 1}/{self.epochs}", stats="")

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self.progress.update(self.task, completed=batch + 1, stats=_format(logs))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.progress.update(self.task, completed=self.steps, stats=_format(logs))

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.progress.stop()


def _format(logs: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "lr")
