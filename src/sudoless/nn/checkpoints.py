"""Saving and loading models: ``architecture.json`` (what to build) and ``weights.npz`` (the numbers).

The JSON names each layer's class and constructor arguments, the input shape, the seed and dtype, and the
compile settings; the npz holds every parameter under its qualified name, the layers' non-trained state
(``state/``: moving statistics) and, optionally, the optimiser's state, so training can resume where it
stopped. Loading (:func:`sudoless.nn.model.load_model`) rebuilds the model from the JSON and copies the
weights in, which makes a loaded model's outputs identical to the saved one's.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import layer_config

if TYPE_CHECKING:
    from sudoless.nn.model import Network

Array = np.ndarray

FORMAT = "sudoless.nn/1"
ARCHITECTURE = "architecture.json"
WEIGHTS = "weights.npz"


def _jsonable(shape: Any) -> Any:
    if isinstance(shape, list):
        return [_jsonable(s) for s in shape]
    return list(shape) if shape is not None else None


def saved_shape(value: Any) -> Any:
    """An input shape as JSON stored it (lists) back as the tuple, or list of tuples, a model is built with."""
    if value and isinstance(value[0], list):
        return [tuple(v) for v in value]
    return tuple(value) if value is not None else None


def save_model(
    model: Network, path: str | Path, include_optimizer: bool = True, extra: dict[str, Any] | None = None
) -> Path:
    """Write the model into directory ``path`` (created if needed); files are replaced atomically."""
    if not model.built or model.flat_params is None:
        raise InputError("build or train the model before saving it")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "model": layer_config(model),
        "input_shape": _jsonable(model.input_shape),
        "compile": model.compile_config(),
        "extra": extra or {},
    }
    arrays = {f"param/{name}": value for name, value in model.get_weights().items()}
    arrays.update({f"state/{name}": value for name, value in model.get_state().items()})
    if include_optimizer and model.optimizer is not None:
        arrays.update({f"optimizer/{k}": v for k, v in model.optimizer.state_arrays().items()})
    _atomic_write(folder / ARCHITECTURE, lambda f: f.write(json.dumps(document, indent=2).encode()))
    # no pickles: load_model reads them back with np.load's allow_pickle=False
    _atomic_write(folder / WEIGHTS, lambda f: np.savez(f, allow_pickle=False, **arrays))
    return folder


def _atomic_write(target: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_architecture(path: str | Path) -> dict[str, Any]:
    file = Path(path) / ARCHITECTURE
    if not file.exists():
        raise InputError(f"{path}: no {ARCHITECTURE}; expected a directory written by model.save()")
    try:
        document = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: not valid JSON ({exc})") from None
    if document.get("format") != FORMAT:
        raise InputError(f"{file}: unknown format {document.get('format')!r}; expected {FORMAT}")
    return document


def read_weights(path: str | Path) -> tuple[dict[str, Array], dict[str, Array], dict[str, Array]]:
    """The parameters, the layers' non-trained state and the optimiser's state saved in directory ``path``."""
    with np.load(Path(path) / WEIGHTS) as data:
        parts: dict[str, dict[str, Array]] = {"param/": {}, "state/": {}, "optimizer/": {}}
        for key in data.files:
            for prefix, part in parts.items():
                if key.startswith(prefix):
                    part[key[len(prefix) :]] = data[key]
    return parts["param/"], parts["state/"], parts["optimizer/"]
