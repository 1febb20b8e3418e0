"""Training runs described by a YAML file: what ``sudoless nn train|eval|sample`` execute.

A run directory holds everything needed to use the result later: the model (``architecture.json`` and
``weights.npz``, the vocabulary for character models), the resolved ``config.yaml``, ``history.json``,
``history.png`` and ``metrics.json``. The config format (see examples/nn/*.yaml)::

    name: digits-mlp
    seed: 0
    threads: 1                     # BLAS threads (the default; --threads overrides it)
    data: {source: digits, test_fraction: 0.2}
    model:
      - Dense: {units: 128}
      - ReLU
      - Dense: {units: 10}
    loss: softmax_cross_entropy
    metrics: [accuracy]
    optimizer: {name: adam, learning_rate: 0.001}
    training: {epochs: 40, batch_size: 32, early_stopping: {patience: 8}}

``training`` also takes Keras's ``class_weight`` ({class: weight}), ``validation_split`` (the last fraction of
the training split holds out for validation, in place of the data set's own validation split) and
``callbacks``, a list of ReduceLROnPlateau, CSVLogger, TensorBoard or EarlyStopping by name with their options
(``- ReduceLROnPlateau: {patience: 3}``); the files of CSVLogger (``history.csv``) and TensorBoard
(``tensorboard/``) go into the run directory unless given another path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sudoless.errors import InputError
from sudoless.nn import data as datasets
from sudoless.nn.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
)
from sudoless.nn.checkpoints import read_architecture, save_model
from sudoless.nn.layers.base import layer_from_config
from sudoless.nn.losses import get_loss
from sudoless.nn.model import Network, Sequential, load_model
from sudoless.nn.optimizers import get_optimizer
from sudoless.nn.plot import plot_history
from sudoless.nn.sampling import sample_text
from sudoless.nn.threads import blas_threads, set_threads

TOP_KEYS = {
    "name",
    "seed",
    "dtype",
    "threads",
    "data",
    "model",
    "loss",
    "metrics",
    "optimizer",
    "training",
    "sample",
    "output",
    "spark",
}
TRAINING_KEYS = {
    "epochs",
    "batch_size",
    "shuffle",
    "tbptt",
    "early_stopping",
    "checkpoint",
    "verbose",
    "class_weight",
    "validation_split",
    "callbacks",
}
#: the callbacks a config may name, and for those that write files the option naming the file and its default
#: (relative paths are inside the run directory)
CALLBACKS: dict[str, type[Callback]] = {
    "ReduceLROnPlateau": ReduceLROnPlateau,
    "CSVLogger": CSVLogger,
    "TensorBoard": TensorBoard,
    "EarlyStopping": EarlyStopping,
}
CALLBACK_FILES = {"CSVLogger": ("filename", "history.csv"), "TensorBoard": ("log_dir", "tensorboard")}


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports: final metrics (train, ``val_``, ``test_``), where it was saved, how long."""

    name: str
    output: Path
    epochs: int
    metrics: dict[str, float | None]  # None: not finite (a diverged run)
    parameters: int
    seconds: float
    sample: str | None = None
    threads: int | None = None
    #: a run on Spark: where the time went (fit_spark's ``History.timings``: seconds and per-step medians)
    timings: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "output": str(self.output),
            "epochs": self.epochs,
            "metrics": self.metrics,
            "parameters": self.parameters,
            "seconds": round(self.seconds, 3),
            "sample": self.sample,
            "threads": self.threads,
            **({"timings": self.timings} if self.timings is not None else {}),
        }


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a run config; errors name the file and the field."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such config file")
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{file}{line}: invalid YAML: {problem}") from None
    if not isinstance(config, dict):
        raise InputError(f"{file}: expected a mapping with data, model, loss, optimizer and training")
    unknown = sorted(set(config) - TOP_KEYS)
    if unknown:
        raise InputError(f"{file}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(TOP_KEYS))}")
    for key in ("data", "model"):
        if key not in config:
            raise InputError(f"{file}: '{key}' is missing")
    if not isinstance(config["data"], dict) or "source" not in config["data"]:
        raise InputError(f"{file}: data needs a 'source' (xor, digits, mnist, shakespeare, text, npz, adding, copy)")
    if not isinstance(config["model"], list) or not config["model"]:
        raise InputError(f"{file}: model must be a non-empty list of layers")
    training = config.get("training") or {}
    if not isinstance(training, dict):
        raise InputError(f"{file}: training must be a mapping")
    unknown = sorted(set(training) - TRAINING_KEYS)
    if unknown:
        raise InputError(
            f"{file}: unknown training key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(TRAINING_KEYS))}"
        )
    config.setdefault("name", file.stem)
    config["_base"] = str(file.resolve().parent)
    config["_file"] = str(file)
    return config


# -- data --------------------------------------------------------------------------------------------------


def load_data(spec: dict[str, Any], seed: int = 0, base: str | Path = ".", where: str = "config") -> datasets.Dataset:
    options = dict(spec)
    source = options.pop("source")
    try:
        if source == "xor":
            return datasets.xor(**options)
        if source == "digits":
            return datasets.digits(seed=options.pop("seed", seed), **options)
        if source == "shakespeare":
            return datasets.shakespeare(**options)
        if source in ("text", "npz", "mnist"):
            if "path" not in options:
                raise InputError(f"{where}: data source {source} needs a 'path'")
            options["path"] = Path(base) / options["path"]
            if source == "mnist":
                return datasets.mnist(seed=options.pop("seed", seed), **options)
            return datasets.text_file(**options) if source == "text" else datasets.npz_file(seed=seed, **options)
        if source in ("adding", "copy"):
            n = int(options.pop("examples", 2000))
            make = datasets.adding_problem if source == "adding" else datasets.copy_task
            x, y = make(n, seed=seed, **options)
            xv, yv = make(max(n // 4, 1), seed=seed + 1, **options)
            return datasets.Dataset(x, y, xv, yv, xv, yv)
    except TypeError as exc:
        raise InputError(f"{where}: data source {source}: {exc}") from None
    raise InputError(
        f"{where}: unknown data source '{source}'; use xor, digits, mnist, shakespeare, text, npz, adding or copy"
    )


# -- model -------------------------------------------------------------------------------------------------


def _layer_spec(entry: Any, where: str) -> dict[str, Any]:
    """``"ReLU"``, ``{Dense: {units: 10}}`` or ``{class: Dense, config: {...}}`` to the canonical form."""
    if isinstance(entry, str):
        return {"class": entry, "config": {}}
    if isinstance(entry, dict) and "class" in entry:
        return {"class": entry["class"], "config": dict(entry.get("config") or {})}
    if isinstance(entry, dict) and len(entry) == 1:
        ((name, options),) = entry.items()
        options = dict(options or {})
        if not isinstance(options, dict):
            raise InputError(f"{where}: options of {name} must be a mapping")
        if "layer" in options:
            options["layer"] = _layer_spec(options["layer"], where)
        return {"class": name, "config": options}
    raise InputError(f"{where}: a layer is a name or a one-key mapping such as {{Dense: {{units: 10}}}}")


def _resolve(value: Any, sizes: dict[str, int]) -> Any:
    """Replace placeholders such as ``vocab`` (the data set's vocabulary size) in layer options."""
    if isinstance(value, dict):
        return {k: _resolve(v, sizes) for k, v in value.items()}
    if isinstance(value, str) and value in sizes and value != "name":
        return sizes[value]
    return value


def build_model(config: dict[str, Any], sizes: dict[str, int] | None = None) -> Sequential:
    """The Sequential a config's ``model`` list describes; ``sizes`` fills placeholders such as ``vocab``."""
    file = config.get("_file", "config")
    layers = []
    for index, entry in enumerate(config["model"]):
        where = f"{file}: model[{index}]"
        spec = _layer_spec(entry, where)
        spec["config"] = {k: (v if k == "name" else _resolve(v, sizes or {})) for k, v in spec["config"].items()}
        try:
            layers.append(layer_from_config(spec))
        except (InputError, ValueError) as exc:
            raise InputError(f"{where}: {exc}") from None
    return Sequential(layers, seed=int(config.get("seed", 0)), dtype=str(config.get("dtype", "float32")))


def _optimizer_spec(config: dict[str, Any], steps_per_epoch: int, epochs: int) -> dict[str, Any]:
    spec = config.get("optimizer", "adam")
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    rate = spec.get("learning_rate")
    if isinstance(rate, dict) and rate.get("total_steps") == "auto":
        spec["learning_rate"] = {**rate, "total_steps": steps_per_epoch * epochs}
    return spec


# -- fit options -------------------------------------------------------------------------------------------


def build_callbacks(specs: Any, folder: Path, where: str) -> list[Callback]:
    """The callbacks of ``training.callbacks``: names or one-key mappings ``{CSVLogger: {append: true}}``."""
    if not isinstance(specs, list):
        raise InputError(f"{where}: a list such as [CSVLogger, {{ReduceLROnPlateau: {{patience: 3}}}}]")
    made: list[Callback] = []
    for index, entry in enumerate(specs):
        at = f"{where}[{index}]"
        options: dict[str, Any] = {}
        if isinstance(entry, str):
            name = entry
        elif isinstance(entry, dict) and len(entry) == 1:
            ((name, given),) = entry.items()
            if not isinstance(given or {}, dict):
                raise InputError(f"{at}: the options of {name} must be a mapping")
            options = dict(given or {})
        else:
            raise InputError(f"{at}: a callback is a name or a one-key mapping such as {{CSVLogger: {{append: true}}}}")
        if name not in CALLBACKS:
            raise InputError(f"{at}: unknown callback '{name}'; known: {', '.join(sorted(CALLBACKS))}")
        if name in CALLBACK_FILES:
            key, default = CALLBACK_FILES[name]
            options[key] = folder / str(options.get(key, default))
        try:
            made.append(CALLBACKS[name](**options))
        except TypeError as exc:
            raise InputError(f"{at}: {name}: {exc}") from None
        except InputError as exc:
            raise InputError(f"{at}: {exc}") from None
    return made


def fit_options(training: dict[str, Any], where: str) -> dict[str, Any]:
    """``class_weight`` and ``validation_split`` of a config's training section, checked, for ``fit``."""
    options: dict[str, Any] = {}
    weights = training.get("class_weight")
    if weights is not None:
        try:
            options["class_weight"] = {int(k): float(v) for k, v in dict(weights).items()}
        except (TypeError, ValueError):
            raise InputError(
                f"{where}.class_weight: a mapping from class index to weight, such as {{0: 1, 1: 5}}"
            ) from None
    split = training.get("validation_split")
    if split is not None:
        if isinstance(split, bool) or not isinstance(split, int | float) or not 0 < split < 1:
            raise InputError(f"{where}.validation_split: a fraction between 0 and 1, got {split!r}")
        options["validation_split"] = float(split)
    return options


# -- running -----------------------------------------------------------------------------------------------


def train_run(
    config: dict[str, Any],
    output: str | Path | None = None,
    epochs: int | None = None,
    verbose: int = 1,
    default_root: Path | None = None,
    callbacks: tuple[Callback, ...] = (),
    fit: Callable[..., Any] | None = None,
    threads: int | None = None,
) -> RunResult:
    """Train the model a config describes, save the run directory, and return the final metrics.

    ``fit(model, x, y, **options)`` replaces ``model.fit`` (``sudoless.nn.spark`` trains on a cluster this way).
    ``threads`` (the CLI's ``--threads``) overrides the config's ``threads:``; both default to one BLAS thread.
    """
    started = time.perf_counter()
    file = config.get("_file", "config")
    try:
        set_threads(threads if threads is not None else config.get("threads"))
    except InputError as exc:
        raise InputError(f"{file}: threads: {exc}") from None
    seed = int(config.get("seed", 0))
    training = dict(config.get("training") or {})
    epochs = int(epochs if epochs is not None else training.get("epochs", 10))
    batch_size = int(training.get("batch_size", 32))
    folder = Path(output or config.get("output") or (default_root or Path("runs")) / str(config["name"]))
    dataset = load_data(config["data"], seed=seed, base=config.get("_base", "."), where=f"{file}: data")
    model = build_model(config, {"vocab": len(dataset.vocab)} if dataset.vocab else {})
    steps = -(-len(dataset.y_train) // batch_size)
    try:
        model.compile(
            get_optimizer(_optimizer_spec(config, steps, epochs)),
            get_loss(config.get("loss", "softmax_cross_entropy")),
            config.get("metrics", []),
        )
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None
    hooks: list[Callback] = [*callbacks]
    options = fit_options(training, f"{file}: training")
    if options and fit is not None:
        raise InputError(f"{file}: training.{next(iter(options))} is not supported on Spark yet; train locally")
    hooks.extend(build_callbacks(training.get("callbacks") or [], folder, f"{file}: training.callbacks"))
    # validation_split holds out part of the training data in place of the data set's validation split
    split = "validation_split" in options
    validation = dataset.split("val") if dataset.x_val is not None and not split else None
    stopping = training.get("early_stopping")
    if stopping:
        stop_options = {} if stopping is True else dict(stopping)
        if validation is None and not split:
            stop_options.setdefault("monitor", "loss")
        try:
            hooks.append(EarlyStopping(**stop_options))
        except TypeError as exc:
            raise InputError(f"{file}: training.early_stopping: {exc}") from None
    sampling = dict(config.get("sample") or {})
    unknown = sorted(set(sampling) - {"length", "prime", "temperature"})
    if unknown:
        raise InputError(f"{file}: unknown sample key(s) {', '.join(unknown)}; allowed: length, prime, temperature")
    extra = {"vocab": dataset.vocab, "config": _public(config), "base": config.get("_base", ".")}
    if training.get("checkpoint") and (validation is not None or split):
        hooks.append(_Checkpoint(folder / "best", extra))
    history = (fit or _fit_here)(
        model,
        dataset.x_train,
        dataset.y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation,
        callbacks=hooks,
        shuffle=bool(training.get("shuffle", True)),
        verbose=int(training.get("verbose", verbose)),
        seed=seed,
        tbptt=training.get("tbptt"),
        **options,
    )
    metrics = dict(history.final())
    scores: dict[str, float] = {}
    if validation is not None:
        # Early stopping may have restored an earlier epoch's weights: report what the saved model scores.
        scores = model.evaluate(*validation)
        metrics.update({f"val_{k}": v for k, v in scores.items()})
    if dataset.x_test is not None:
        if dataset.x_test is not dataset.x_val:
            scores = model.evaluate(*dataset.split("test"))
        metrics.update({f"test_{k}": v for k, v in scores.items()})
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder, extra=extra)
    (folder / "config.yaml").write_text(yaml.safe_dump(_public(config), sort_keys=False))
    (folder / "history.json").write_text(json.dumps(history.history, indent=2))
    plot_history(history, folder / "history.png", title=str(config["name"]))
    sample = None
    if dataset.vocab and sampling:
        sample = sample_text(model, dataset.vocab, seed=seed, **sampling)
    result = RunResult(
        str(config["name"]),
        folder,
        len(history.epoch),
        _finite(metrics),
        model.count_params(),
        time.perf_counter() - started,
        sample,
        blas_threads(),
        getattr(history, "timings", None),
    )
    (folder / "metrics.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result


def _fit_here(model: Network, x: Any, y: Any, **options: Any) -> Any:
    return model.fit(x, y, **options)


class _Checkpoint(ModelCheckpoint):
    """Save the best model so far with the run's vocabulary and config beside the weights."""

    def __init__(self, path: Path, extra: dict[str, Any]) -> None:
        super().__init__(path, monitor="val_loss", save_best_only=True)
        self.extra = extra

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = float(logs.get("val_loss", np.inf))
        if value < self.best:
            self.best = value
            save_model(self.model, self.path, extra=self.extra)


def _public(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    """The metrics as JSON can hold them: a NaN or infinite one (a diverged run) becomes None."""
    return {k: (float(v) if np.isfinite(v) else None) for k, v in metrics.items()}


def load_run(folder: str | Path) -> tuple[Network, dict[str, Any]]:
    """The trained model of a run directory and its ``extra`` (vocabulary, config)."""
    document = read_architecture(folder)
    return load_model(folder), document.get("extra") or {}


def evaluate_run(folder: str | Path, split: str = "test") -> dict[str, float | None]:
    """Reload a run's model and data and score the ``split`` (train, val or test)."""
    model, extra = load_run(folder)
    config = extra.get("config")
    if not config:
        raise InputError(f"{folder}: the run does not record its config; evaluate it from Python instead")
    if model.loss is None:
        raise InputError(f"{folder}: the saved model was never compiled")
    dataset = load_data(
        config["data"], seed=int(config.get("seed", 0)), base=extra.get("base", "."), where=f"{folder}: data"
    )
    x, y = dataset.split(split)
    return _finite(model.evaluate(x, y))


def sample_run(
    folder: str | Path, length: int = 500, prime: str = "\n", temperature: float = 1.0, seed: int = 0
) -> str:
    model, extra = load_run(folder)
    vocab = extra.get("vocab")
    if not vocab:
        raise InputError(f"{folder}: not a character model (no vocabulary saved with it)")
    return sample_text(model, vocab, length=length, prime=prime, temperature=temperature, seed=seed)
