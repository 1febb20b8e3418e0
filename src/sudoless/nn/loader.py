"""Batches for ``fit``, ``evaluate`` and ``predict`` from arrays or a data set indexed by example.

:class:`Loader` is what a ``tf.data.Dataset`` or a PyTorch ``DataLoader`` is to those libraries, cut to what
these models need: it cuts arrays (or any object with ``len`` and ``[i]`` that returns one example) into
batches of ``(x, y)`` or ``(x, y, sample_weight)``, shuffles them again at every pass with a seed (pass ``e``
uses ``default_rng([seed, e])``, so a run is reproducible and every epoch sees another order), and can
prepare the next batches in a background thread while the model trains on the current one (``prefetch``):
worth it when making a batch is slow (an augmentation, a decoding, a read), not for slicing arrays in memory.

``fit`` also takes any Python iterable or generator that yields such tuples; a :class:`Loader` is one that
knows its length and starts again at each epoch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.arrays import count, take

Array = np.ndarray

#: how long the prefetching thread waits for room in its queue before checking whether it should stop
_POLL_SECONDS = 0.1


def _is_arrays(x: Any) -> bool:
    return isinstance(x, np.ndarray | list | tuple) or hasattr(x, "__array__")


def _collate(examples: list[Any]) -> Any:
    """Stack a batch of examples: tuples (x, y[, w]) component by component, a list input input by input."""
    first = examples[0]
    if isinstance(first, tuple | list):
        return type(first)(_collate([e[k] for e in examples]) for k in range(len(first)))
    return np.stack([np.asarray(e) for e in examples])


class Loader:
    """Iterable batches of ``(x, y)``, ``(x, y, sample_weight)`` or ``x`` (when ``y`` is None), for fit.

    ``x`` is an array, a list of arrays (a model with several inputs), or a data set: any object with
    ``len(data)`` and ``data[i]`` returning one example as ``(x_i, y_i)`` or ``(x_i, y_i, w_i)`` (then ``y`` and
    ``sample_weight`` stay None). ``transform(batch)`` is applied to each batch (in the prefetching thread when
    there is one). ``len(loader)`` is the number of batches per pass.
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        prefetch: int = 0,
        drop_remainder: bool = False,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        if prefetch < 0:
            raise InputError(f"prefetch is a number of batches (0: none), got {prefetch}")
        self.indexed = not _is_arrays(x)
        if self.indexed and not (hasattr(x, "__len__") and hasattr(x, "__getitem__")):
            raise InputError("a Loader takes arrays, or a data set with len() and [i] returning one example")
        if self.indexed and (y is not None or sample_weight is not None):
            raise InputError("a data set indexed by example gives its own targets: leave y and sample_weight None")
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.examples = len(x) if self.indexed else count(x)
        if not self.indexed:
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None and count(value) != self.examples:
                    raise InputError(f"x has {self.examples} examples but {name} has {count(value)}")
        self.batch_size, self.shuffle, self.seed = int(batch_size), shuffle, int(seed)
        self.prefetch, self.drop_remainder, self.transform = int(prefetch), drop_remainder, transform
        self.passes = 0

    def __len__(self) -> int:
        if self.drop_remainder:
            return self.examples // self.batch_size
        return -(-self.examples // self.batch_size)

    def order(self, epoch: int) -> Array:
        """The example order of pass ``epoch``."""
        if not self.shuffle:
            return np.arange(self.examples)
        return np.random.default_rng([self.seed, epoch]).permutation(self.examples)

    def batch(self, index: Array) -> Any:
        """The batch made of examples ``index``."""
        if self.indexed:
            made = _collate([self.x[int(i)] for i in index])
        else:
            made = take(self.x, index)
            if self.y is not None:
                made = (made, take(self.y, index))
                if self.sample_weight is not None:
                    made = (*made, take(self.sample_weight, index))
        return made if self.transform is None else self.transform(made)

    def __iter__(self) -> Iterator[Any]:
        order = self.order(self.passes)
        self.passes += 1
        indices = [order[k * self.batch_size : (k + 1) * self.batch_size] for k in range(len(self))]
        if self.prefetch:
            return _prefetched(self, indices)
        return (self.batch(index) for index in indices)


def _prefetched(loader: Loader, indices: list[Array]) -> Iterator[Any]:
    """Batches made by a daemon thread up to ``loader.prefetch`` ahead; an error there is raised here.

    The thread stops when the consumer closes the generator (a ``break`` out of the loop, an early stop), so
    nothing is left running.
    """
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=loader.prefetch)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for index in indices:
                if not put(("batch", loader.batch(index))):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            put(("error", exc))
            return
        put(("end", None))

    worker = threading.Thread(target=produce, name="sudoless-nn-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()
