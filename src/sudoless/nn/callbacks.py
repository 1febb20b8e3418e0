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
    return "max" if any(word in monitor for word in ("acc", "auc", "precision", "recall", "f1")) else "min"


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


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by ``min_delta`` for
    ``patience`` epochs, then wait ``cooldown`` epochs before counting again; never below ``min_lr``.

    Keras's rules, step for step. The optimiser needs a constant learning rate (a decaying schedule already
    decides the rate; setting it is refused).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        verbose: int = 0,
    ) -> None:
        if not 0.0 < float(factor) < 1.0:
            raise InputError(f"ReduceLROnPlateau's factor must lie in (0, 1), got {factor}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.mode = _better(mode, monitor)
        self.min_delta, self.cooldown, self.min_lr = abs(float(min_delta)), int(cooldown), float(min_lr)
        self.verbose = verbose
        self.reductions: list[tuple[int, float]] = []  # (epoch, new rate)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = self.cooldown_left = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise InputError(f"ReduceLROnPlateau monitors '{self.monitor}', which is not among {', '.join(logs)}")
        value = float(logs[self.monitor])
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta:
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        optimizer = self.model.optimizer
        if self.wait < self.patience or optimizer is None:
            return
        # compared in float32, as Keras does, so a rate already at min_lr is left alone
        if np.float32(optimizer.learning_rate) > np.float32(self.min_lr):
            rate = max(optimizer.learning_rate * self.factor, self.min_lr)
            optimizer.learning_rate = rate
            self.reductions.append((epoch, rate))
            if self.verbose:
                print(f"epoch {epoch + 1}: ReduceLROnPlateau set the learning rate to {rate:.4g}", file=sys.stderr)
            self.cooldown_left, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """One CSV row per epoch: ``epoch`` (from 0, as Keras writes it) and every log key in sorted order.

    ``append`` continues an existing file (a resumed run) without writing the header again. The file is
    flushed after every row, so it can be followed while training runs.
    """

    def __init__(self, filename: str | Path, separator: str = ",", append: bool = False) -> None:
        self.filename, self.separator, self.append = Path(filename), separator, append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        import csv

        resuming = self.append and self.filename.exists() and self.filename.stat().st_size > 0
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.filename.open("a" if self.append else "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file, delimiter=self.separator)
        self.keys = None
        if resuming:
            with self.filename.open(newline="", encoding="utf-8") as existing:
                header = next(csv.reader(existing, delimiter=self.separator), None)
            self.keys = header[1:] if header else None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *(_csv_value(logs.get(key, "")) for key in self.keys)])
        self.file.flush()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if "file" in self.__dict__:
            self.file.close()


def _csv_value(value: Any) -> Any:
    return repr(float(value)) if isinstance(value, float | np.floating) else value


class TensorBoard(Callback):
    """Scalars for TensorBoard: ``log_dir/train`` and ``log_dir/validation`` event files, as Keras lays them out.

    Each epoch writes ``epoch_<key>`` (``epoch_loss``, ``epoch_accuracy``; the ``val_`` keys go to the
    validation run under the same tags, so TensorBoard draws both on one chart) and ``epoch_learning_rate``.
    ``update_freq="batch"`` (or a number n: every n batches) also writes ``batch_<key>`` at the global batch
    count. The event files are written by tensorboardX (part of the ``nn`` extra).
    """

    def __init__(self, log_dir: str | Path = "logs", update_freq: str | int = "epoch") -> None:
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq >= 1):
            raise InputError(f"TensorBoard's update_freq is 'epoch', 'batch' or a number of batches: {update_freq!r}")
        self.log_dir, self.update_freq = Path(log_dir), update_freq
        self.batches = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        try:
            from tensorboardX import SummaryWriter  # type: ignore[import-untyped]
        except ImportError as exc:
            from sudoless.extras import install_hint

            raise install_hint("the TensorBoard callback", "nn", exc.name or "tensorboardX") from None
        self.train = SummaryWriter(str(self.log_dir / "train"))
        self.validation = SummaryWriter(str(self.log_dir / "validation"))

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self.batches += 1
        if self.update_freq == "epoch" or self.batches % int(self.update_freq):
            return
        for key, value in logs.items():
            self.train.add_scalar(f"batch_{key}", float(value), self.batches)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        for key, value in logs.items():
            if key.startswith("val_"):
                self.validation.add_scalar(f"epoch_{key[4:]}", float(value), epoch)
            else:
                self.train.add_scalar("epoch_learning_rate" if key == "lr" else f"epoch_{key}", float(value), epoch)
        self.train.flush()
        self.validation.flush()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        for name in ("train", "validation"):
            writer = self.__dict__.get(name)
            if writer is not None:
                writer.close()


class ProgressBar(Callback):
    """A rich progress bar on stderr: one bar per epoch with the running loss and metrics."""

    def __init__(self, epochs: int, steps: int | None) -> None:
        """``steps`` per epoch, None when unknown (a generator without ``steps_per_epoch``)."""
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
        done = self.progress.tasks[-1].completed if self.steps is None else self.steps
        self.progress.update(self.task, total=done, completed=done, stats=_format(logs))

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.progress.stop()


def _format(logs: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "lr")
