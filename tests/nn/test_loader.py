"""Iterators, generators and the Loader as fit's, evaluate's and predict's input."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sudoless import nn
from sudoless.errors import InputError


def _model(seed: int = 0) -> nn.Sequential:
    model = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(3)], seed=seed, dtype="float64")
    return model.compile(nn.SGD(0.1), "softmax_cross_entropy", ["accuracy"])


def _data(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)


def _batches(x: np.ndarray, y: np.ndarray, size: int, w: np.ndarray | None = None) -> Iterator[Any]:
    """An endless generator over the data in order, as users write them."""
    while True:
        for start in range(0, len(x), size):
            part = slice(start, start + size)
            yield (x[part], y[part]) if w is None else (x[part], y[part], w[part])


def test_a_generator_with_steps_per_epoch_trains_like_the_arrays() -> None:
    x, y = _data()
    arrays = _model().fit(x, y, epochs=3, batch_size=10, shuffle=False, verbose=0)
    streamed = _model().fit(_batches(x, y, 10), epochs=3, steps_per_epoch=4, verbose=0)
    assert streamed.history == arrays.history
    w = np.linspace(0.2, 2.0, len(y))
    weighted = _model().fit(x, y, epochs=2, batch_size=10, shuffle=False, sample_weight=w, verbose=0)
    assert _model().fit(_batches(x, y, 10, w), epochs=2, steps_per_epoch=4, verbose=0).history == weighted.history
    by_class = _model().fit(x, y, epochs=2, batch_size=10, shuffle=False, class_weight={1: 2.0}, verbose=0)
    streamed_by_class = _model().fit(_batches(x, y, 10), epochs=2, steps_per_epoch=4, class_weight={1: 2.0}, verbose=0)
    assert streamed_by_class.history == by_class.history


def test_validation_from_a_generator_and_evaluate_predict_on_iterators() -> None:
    x, y = _data()
    model = _model()
    history = model.fit(
        _batches(x, y, 10),
        epochs=2,
        steps_per_epoch=4,
        validation_data=_batches(x, y, 20),
        validation_steps=2,
        verbose=0,
    )
    assert history["val_loss"][-1] == pytest.approx(model.evaluate(x, y)["loss"], rel=1e-12)
    assert model.evaluate(_batches(x, y, 7), steps=6)["loss"] == pytest.approx(model.evaluate(x, y)["loss"])
    np.testing.assert_array_equal(model.predict(nn.Loader(x, batch_size=9, shuffle=False)), model.predict(x))
    np.testing.assert_array_equal(model.predict(_batches(x, y, 10), steps=4), model.predict(x))


def test_a_one_shot_generator_that_runs_out_stops_training() -> None:
    x, y = _data()
    finite = ((x[k : k + 10], y[k : k + 10]) for k in range(0, 40, 10))
    with pytest.warns(RuntimeWarning, match="ran out"):
        history = _model().fit(finite, epochs=5, verbose=0)
    assert len(history.epoch) == 1  # the first epoch read it to its end; the second found nothing
    short = ((x[k : k + 10], y[k : k + 10]) for k in range(0, 40, 10))
    history = _model().fit(short, epochs=5, steps_per_epoch=3, verbose=0)
    assert len(history.epoch) == 2  # 3 batches, then 1 and the end: training stops after that epoch


def test_an_iterable_that_starts_again_gives_one_pass_per_epoch() -> None:
    x, y = _data()

    class Batches:
        def __iter__(self) -> Iterator[Any]:
            return ((x[k : k + 10], y[k : k + 10]) for k in range(0, 40, 10))

    arrays = _model().fit(x, y, epochs=3, batch_size=10, shuffle=False, verbose=0)
    assert _model().fit(Batches(), epochs=3, verbose=0).history == arrays.history


def test_bad_batches_and_arguments_are_one_line_errors() -> None:
    x, y = _data()
    with pytest.raises(InputError, match="tuple"):
        _model().fit(iter([x[:4]]), epochs=1, verbose=0)
    with pytest.raises(InputError, match="leave y None"):
        _model().fit(_batches(x, y, 10), y, steps_per_epoch=2, verbose=0)
    with pytest.raises(InputError, match="validation_split needs arrays"):
        _model().fit(_batches(x, y, 10), steps_per_epoch=2, validation_split=0.2, verbose=0)
    with pytest.raises(InputError, match="steps_per_epoch is for iterators"):
        _model().fit(x, y, steps_per_epoch=2, verbose=0)


def test_loader_batches_shuffles_by_seed_and_epoch() -> None:
    x, y = _data(23)
    loader = nn.Loader(x, y, batch_size=5, seed=7)
    assert len(loader) == 5
    first, second = list(loader), list(loader)
    assert [len(b[0]) for b in first] == [5, 5, 5, 5, 3]
    order_1 = np.concatenate([b[0][:, 0] for b in first])
    order_2 = np.concatenate([b[0][:, 0] for b in second])
    assert sorted(order_1) == sorted(x[:, 0]) and not np.array_equal(order_1, order_2)
    again = nn.Loader(x, y, batch_size=5, seed=7)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in again]), np.concatenate([b[0] for b in first]))
    for xb, yb in first:  # rows stay paired with their targets
        np.testing.assert_array_equal(yb, (xb[:, 0] > 0).astype(int) + (xb[:, 1] > 1).astype(int))
    dropped = nn.Loader(x, y, batch_size=5, drop_remainder=True, shuffle=False)
    assert len(dropped) == 4 and [len(b[0]) for b in dropped] == [5, 5, 5, 5]


def test_loader_reads_a_data_set_indexed_by_example() -> None:
    x, y = _data(12)

    class Examples:
        def __len__(self) -> int:
            return len(x)

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.int64]:
            return x[i], y[i]

    batches = list(nn.Loader(Examples(), batch_size=5, shuffle=False))
    np.testing.assert_array_equal(batches[0][0], x[:5])
    np.testing.assert_array_equal(batches[2][1], y[10:])
    model = _model()
    history = model.fit(nn.Loader(Examples(), batch_size=4, shuffle=False), epochs=2, verbose=0)
    assert history.history == _model().fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history


def test_fit_on_a_shuffling_loader_is_reproducible() -> None:
    x, y = _data()
    one = _model().fit(nn.Loader(x, y, batch_size=8, seed=3), epochs=3, verbose=0)
    two = _model().fit(nn.Loader(x, y, batch_size=8, seed=3), epochs=3, verbose=0)
    other = _model().fit(nn.Loader(x, y, batch_size=8, seed=4), epochs=3, verbose=0)
    assert one.history == two.history and one.history != other.history


def test_prefetch_gives_the_same_batches_from_another_thread() -> None:
    x, y = _data(30)
    makers: set[str] = set()

    def note(batch: Any) -> Any:
        makers.add(threading.current_thread().name)
        return batch

    plain = list(nn.Loader(x, y, batch_size=4, seed=1))
    fetched = list(nn.Loader(x, y, batch_size=4, seed=1, prefetch=2, transform=note))
    assert makers == {"sudoless-nn-prefetch"}
    for (a, b), (c, d) in zip(plain, fetched, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    model = _model()
    history = model.fit(nn.Loader(x, y, batch_size=4, seed=1, prefetch=3), epochs=2, verbose=0)
    assert history.history == _model().fit(nn.Loader(x, y, batch_size=4, seed=1), epochs=2, verbose=0).history


def test_prefetch_thread_stops_when_the_consumer_does_and_passes_errors_on() -> None:
    x, y = _data(400)
    before = threading.active_count()
    stream = iter(nn.Loader(x, y, batch_size=4, prefetch=2))
    next(stream)
    assert threading.active_count() == before + 1
    stream.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    # fit stops reading after steps_per_epoch batches: the thread goes with the epoch
    _model().fit(nn.Loader(x, y, batch_size=4, prefetch=2), epochs=2, steps_per_epoch=3, verbose=0)
    assert threading.active_count() == before

    def broken(batch: Any) -> Any:
        raise ValueError("cannot decode example")

    with pytest.raises(ValueError, match="cannot decode"):
        list(nn.Loader(x, y, batch_size=4, prefetch=2, transform=broken))
    assert threading.active_count() == before


def test_the_progress_bar_counts_batches_of_a_generator_of_unknown_length(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _data()
    _model().fit(((x[k : k + 10], y[k : k + 10]) for k in range(0, 40, 10)), epochs=1, verbose=1)
    assert "4/4" in capsys.readouterr().err


def test_fit_starts_a_loader_at_its_first_pass() -> None:
    x, y = _data(20)
    loader = nn.Loader(x, y, batch_size=5, seed=2)
    seen: list[np.ndarray] = []

    def note(batch: Any) -> Any:
        seen.append(batch[0])
        return batch

    _model().fit(nn.Loader(x, y, batch_size=5, seed=2, transform=note), epochs=2, verbose=0)
    assert len(seen) == 8
    first_pass = np.concatenate([b[0] for b in loader])
    np.testing.assert_array_equal(np.concatenate(seen[:4]), first_pass)


def test_validation_from_a_generator_that_runs_out_says_so() -> None:
    x, y = _data()
    once = ((x[k : k + 10], y[k : k + 10]) for k in range(0, 40, 10))
    with pytest.raises(InputError, match="the iterator ran out"):
        _model().fit(x, y, epochs=2, validation_data=once, verbose=0)
