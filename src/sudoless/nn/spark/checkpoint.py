"""Checkpoints of a distributed run, one per epoch, and resuming from the latest.

A checkpoint is a model directory (``architecture.json`` and ``weights.npz`` with the optimiser's state, as
:func:`~sudoless.nn.checkpoints.save_model` writes) plus ``state.json``: the epochs done, the driver's
shuffling generator state, the global step and the history so far. Resuming restores all of it, so a run
stopped after epoch e and resumed trains the same batches in the same order as one that never stopped.

Each epoch goes to ``epoch-NNNN/``; ``latest.json`` names the newest complete one and is replaced atomically
after the directory is fully written, so a crash mid-save leaves the previous checkpoint in force. The two
newest are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.checkpoints import WEIGHTS, save_model
from sudoless.nn.model import Network

LATEST = "latest.json"
KEEP = 2


@dataclass(frozen=True)
class TrainingState:
    """Where a run stands after an epoch: what the next epoch needs besides the weights."""

    epochs_done: int
    global_step: int
    rng_state: Mapping[str, Any]  # numpy's bit_generator.state
    history: dict[str, list[float]]
    engine: str


def save_checkpoint(folder: str | Path, model: Network, state: TrainingState) -> Path:
    root = Path(folder)
    target = root / f"epoch-{state.epochs_done:04d}"
    save_model(model, target, include_optimizer=True)
    (target / "state.json").write_text(json.dumps(state.__dict__, indent=2))
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{LATEST}.")
    with os.fdopen(fd, "w") as handle:
        json.dump({"checkpoint": target.name, "epochs_done": state.epochs_done}, handle)
    os.replace(tmp, root / LATEST)
    for old in sorted(root.glob("epoch-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(folder: str | Path) -> Path | None:
    pointer = Path(folder) / LATEST
    if not pointer.exists():
        return None
    try:
        name = json.loads(pointer.read_text())["checkpoint"]
    except (json.JSONDecodeError, KeyError):
        raise InputError(f"{pointer}: not a checkpoint pointer; delete it to start afresh") from None
    return Path(folder) / name


def restore_checkpoint(folder: str | Path, model: Network) -> TrainingState | None:
    """Load the newest checkpoint under ``folder`` into ``model`` (built and compiled); None if there is none."""
    path = latest_checkpoint(folder)
    if path is None:
        return None
    try:
        document = json.loads((path / "state.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable checkpoint state ({exc})") from None
    with np.load(path / WEIGHTS) as data:
        params = {k[len("param/") :]: data[k] for k in data.files if k.startswith("param/")}
        optimizer = {k[len("optimizer/") :]: data[k] for k in data.files if k.startswith("optimizer/")}
    model.set_weights(params)
    if optimizer and model.optimizer is not None:
        model.optimizer.load_state_arrays(optimizer)
    return TrainingState(**document)
