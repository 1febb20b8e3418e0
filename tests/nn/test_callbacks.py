"""ReduceLROnPlateau, CSVLogger and TensorBoard event files (read back through the TFRecord framing)."""

from __future__ import annotations

import csv
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sudoless import nn
from sudoless.errors import InputError


def _model(lr: Any = 0.1) -> nn.Sequential:
    model = nn.Sequential([nn.Dense(3)], seed=0, dtype="float64")
    return model.compile(nn.SGD(lr), "softmax_cross_entropy", ["accuracy"])


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4))
    return x, (x[:, 0] > 0).astype(int)


def _drive(callback: nn.Callback, model: nn.Network, values: list[float], key: str = "val_loss") -> list[float]:
    """Run the callback over epochs whose monitored value is ``values``; the learning rate after each."""
    callback.set_model(model)
    callback.on_train_begin({})
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {key: value})
        assert model.optimizer is not None
        rates.append(model.optimizer.learning_rate)
    return rates


def test_reduce_on_plateau_waits_patience_then_cools_down() -> None:
    model = _model(1.0)
    callback = nn.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_delta=0.01)
    # improves, then a plateau (0.995 is within min_delta of 1.0, so not an improvement)
    rates = _drive(callback, model, [1.0, 0.995, 0.999, 0.999, 0.999, 0.999, 0.999, 0.5, 0.6, 0.6])
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125]
    assert [epoch for epoch, _ in callback.reductions] == [2, 5, 9]


def test_reduce_on_plateau_stops_at_min_lr_and_monitors_max_for_accuracy() -> None:
    model = _model(1.0)
    rates = _drive(nn.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05), model, [3.0, 3.0, 3.0, 3.0])
    assert rates == [1.0, pytest.approx(0.1), 0.05, 0.05]
    rates = _drive(
        nn.ReduceLROnPlateau(monitor="val_accuracy", patience=1), _model(1.0), [0.5, 0.6, 0.4], "val_accuracy"
    )
    assert rates == [1.0, 1.0, pytest.approx(0.1)]


def test_reduce_on_plateau_in_fit_and_its_refusals() -> None:
    x, y = _data()
    model = _model(0.1)
    history = model.fit(
        x, y, epochs=6, callbacks=[nn.ReduceLROnPlateau("loss", factor=0.5, patience=0, min_delta=10)], verbose=0
    )
    assert history["lr"] == [0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625]  # the first epoch sets the best
    with pytest.raises(InputError, match="factor"):
        nn.ReduceLROnPlateau(factor=1.5)
    decaying = _model(nn.StepDecay(0.1, step_size=5))
    with pytest.raises(InputError, match="schedule"):
        decaying.fit(x, y, epochs=3, callbacks=[nn.ReduceLROnPlateau("loss", patience=0, min_delta=10)], verbose=0)
    with pytest.raises(InputError, match="val_loss"):
        _model().fit(x, y, epochs=1, callbacks=[nn.ReduceLROnPlateau()], verbose=0)


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path: Path) -> None:
    x, y = _data()
    path = tmp_path / "logs" / "training.csv"
    model = _model()
    history = model.fit(x, y, epochs=3, validation_data=(x, y), callbacks=[nn.CSVLogger(path)], verbose=0)
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == history["val_loss"]
    model.fit(
        x, y, epochs=5, initial_epoch=3, validation_data=(x, y), callbacks=[nn.CSVLogger(path, append=True)], verbose=0
    )
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("epoch,") and lines[4].startswith("3,")


# -- TensorBoard ---------------------------------------------------------------------------------------------


def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: slow and obviously right."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files of ``folder``, by tag: the TFRecord frames checked, the Event protos
    decoded with the protobuf classes tensorboardX ships."""
    from tensorboardX.proto import event_pb2  # type: ignore[import-untyped]

    found: dict[str, list[tuple[int, float]]] = {}
    files = sorted(folder.glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    for file in files:
        data, offset = file.read_bytes(), 0
        while offset < len(data):
            header = data[offset : offset + 8]
            (length,) = struct.unpack("<Q", header)
            (header_crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
            assert header_crc == _masked(header), "corrupt length frame"
            body = data[offset + 12 : offset + 12 + length]
            (body_crc,) = struct.unpack("<I", data[offset + 12 + length : offset + 16 + length])
            assert body_crc == _masked(body), "corrupt record"
            offset += 16 + length
            event = event_pb2.Event.FromString(body)
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def test_tensorboard_event_files_hold_the_epoch_and_batch_scalars(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    board = nn.TensorBoard(tmp_path / "tb", update_freq="batch")
    history = model.fit(x, y, epochs=3, batch_size=10, validation_data=(x, y), callbacks=[board], verbose=0)
    train, validation = read_scalars(tmp_path / "tb" / "train"), read_scalars(tmp_path / "tb" / "validation")
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss"} <= set(train)
    assert set(validation) == {"epoch_loss", "epoch_accuracy"}
    assert [step for step, _ in train["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in validation["epoch_loss"]], history["val_loss"], rtol=1e-6)
    assert [step for step, _ in train["batch_loss"]] == list(range(1, 13))
    assert train["batch_loss"][3][1] == pytest.approx(history["loss"][0], rel=1e-6)  # the epoch's running mean


def test_tensorboard_every_n_batches_or_only_epochs(tmp_path: Path) -> None:
    x, y = _data()
    _model().fit(x, y, epochs=2, batch_size=10, callbacks=[nn.TensorBoard(tmp_path / "a", update_freq=3)], verbose=0)
    assert [s for s, _ in read_scalars(tmp_path / "a" / "train")["batch_loss"]] == [3, 6]
    _model().fit(x, y, epochs=2, batch_size=10, callbacks=[nn.TensorBoard(tmp_path / "b")], verbose=0)
    assert "batch_loss" not in read_scalars(tmp_path / "b" / "train")
    with pytest.raises(InputError, match="update_freq"):
        nn.TensorBoard(tmp_path, update_freq="often")


def test_the_crc_is_the_standard_one() -> None:
    assert _crc32c(b"123456789") == 0xE3069283  # CRC-32C's published check value
