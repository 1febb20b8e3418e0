"""Training data as Spark partitions whose arrays stay inside the Python workers between steps.

Whatever the source (NumPy arrays, an RDD of ``(features, label)`` pairs, a DataFrame, a folder of Parquet
files or of ``.npz``/``.npy`` shards), it becomes one RDD with exactly one element per partition:
``(partition, x, y)`` with ``x`` and ``y`` stacked NumPy arrays. Partition p holds the examples with global
indices ``starts[p] .. starts[p+1]-1``, so the driver can name a global batch by index, as single-process
``fit`` does, and each task picks the rows of that batch it holds.

PySpark keeps a cached RDD as pickled bytes in the JVM and streams the whole partition to the Python worker
on every job (1.9-2.4 s per job for two 94 MB partitions, measured on a 2-vCPU machine). So a *load* job
puts each partition into a cache in the Python worker (``spark.python.worker.reuse``, on by default) and
into a spill file on the executor's local disk; step jobs then run over a tiny RDD of partition numbers and
find their arrays in the cache, or map the spill file (a new worker after a crash, or a second worker of the
same executor). Only when neither is there (the task landed on another host) does a task fail with
:class:`ShardMissing`, and the driver reloads and retries.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError, SudolessError
from sudoless.nn.arrays import count, input_shape_of, take

Array = np.ndarray

SPILL_ROOT = "sudoless-nn-spark"


class ShardMissing(SudolessError):
    """A step task found neither its partition in the worker's cache nor its spill file on this host."""

    exit_code = 1


@dataclass(frozen=True)
class Shard:
    """One partition inside a Python worker: rows ``start .. start+len(y)-1`` of the global data set."""

    start: int
    x: Any  # an array, or a list of arrays (a model with several inputs)
    y: Any  # likewise (several outputs)

    def rows(self, batch: Array) -> tuple[Any, Any]:
        """This shard's rows of a global batch (given as global indices), in the batch's order."""
        local = batch[(batch >= self.start) & (batch < self.start + count(self.y))] - self.start
        return take(self.x, local), take(self.y, local)


@dataclass
class ShardedData:
    """What the driver knows about distributed training data: the partition RDD and where each one starts."""

    key: str
    rdd: Any
    starts: list[int]
    sample_shape: Any  # a shape, or a list of them (several inputs)
    label_shape: Any
    x_dtype: str

    @property
    def partitions(self) -> int:
        return len(self.starts) - 1

    @property
    def count(self) -> int:
        return self.starts[-1]

    def sizes(self) -> list[int]:
        return [self.starts[i + 1] - self.starts[i] for i in range(self.partitions)]


# -- driver side -------------------------------------------------------------------------------------------


def _arrays(value: Any) -> bool:
    """A list of NumPy arrays: the inputs of a model with several inputs, or the targets of several outputs."""
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(a, np.ndarray) for a in value)


def _stack(rows: list[Any]) -> tuple[Array, Array]:
    if not rows:
        return np.empty((0,), np.float32), np.empty((0,), np.int64)
    xs = np.stack([np.asarray(r[0].toArray() if hasattr(r[0], "toArray") else r[0]) for r in rows])
    ys = np.asarray([r[1] for r in rows])
    return xs, ys


def _pairs_to_blobs(rdd: Any) -> Any:
    def stack(index: int, rows: Iterator[Any]) -> Iterator[tuple[int, Array, Array]]:
        x, y = _stack(list(rows))
        yield index, x, y

    return rdd.mapPartitionsWithIndex(stack, preservesPartitioning=True)


def _ordered(rows: Any, partitions: int | None) -> Any:
    """``rows`` in ``partitions`` balanced partitions that keep the rows' order (``repartition`` shuffles them)."""
    if not partitions or partitions == rows.getNumPartitions():
        return rows
    total = rows.count()
    per = max(1, -(-total // partitions))
    keyed = rows.zipWithIndex().map(lambda pair: (pair[1] // per, (pair[1], pair[0])))

    def in_order(items: Iterator[Any]) -> Iterator[Any]:
        for _, (_, row) in sorted(items, key=lambda item: item[1][0]):
            yield row

    return keyed.partitionBy(partitions, lambda block: block).mapPartitions(in_order)


def _dataframe_rows(frame: Any, features: str | list[str], label: str) -> Any:
    columns = [features] if isinstance(features, str) else list(features)
    missing = [c for c in [*columns, label] if c not in frame.columns]
    if missing:
        raise InputError(
            f"the DataFrame has no column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}; "
            "pass features= and label="
        )
    selected = frame.select(*columns, label).rdd
    if len(columns) == 1:
        return selected.map(lambda row: (row[0], row[1]))
    return selected.map(lambda row: (np.asarray(row[:-1], np.float32), row[-1]))


def _shard_files(path: Path) -> list[tuple[str, str | None]]:
    """``*.npz`` files (arrays ``x`` and ``y``), or ``x*.npy`` files each with a ``y*.npy`` beside it."""
    npz = sorted(glob.glob(str(path / "*.npz"))) if path.is_dir() else ([str(path)] if path.suffix == ".npz" else [])
    if npz:
        return [(f, None) for f in npz]
    xs = sorted(glob.glob(str(path / "x*.npy")))
    pairs: list[tuple[str, str | None]] = [(f, str(Path(f).with_name("y" + Path(f).name[1:]))) for f in xs]
    absent = [y for _, y in pairs if y and not Path(y).exists()]
    if absent:
        raise InputError(f"{path}: label shard {absent[0]} is missing (each x*.npy needs its y*.npy)")
    return pairs


def _load_file(pair: tuple[str, str | None]) -> tuple[Array, Array]:
    x_file, y_file = pair
    if y_file is None:
        with np.load(x_file) as data:
            if "x" not in data.files or "y" not in data.files:
                raise InputError(f"{x_file}: a shard needs arrays named x and y; it holds {', '.join(data.files)}")
            return data["x"], data["y"]
    return np.load(x_file), np.load(y_file)


def _files_to_blobs(sc: Any, files: list[tuple[str, str | None]], partitions: int) -> Any:
    groups = [files[i::partitions] for i in range(partitions)]

    def load(index: int, items: Iterator[list[tuple[str, str | None]]]) -> Iterator[tuple[int, Array, Array]]:
        group = next(iter(items), [])
        loaded = [_load_file(pair) for pair in group]
        if not loaded:
            yield index, np.empty((0,), np.float32), np.empty((0,), np.int64)
            return
        yield index, np.concatenate([x for x, _ in loaded]), np.concatenate([y for _, y in loaded])

    return sc.parallelize(groups, partitions).mapPartitionsWithIndex(load, preservesPartitioning=True)


def to_partitions(
    data: Any, y: Any, sc: Any, partitions: int | None, features: str | list[str] = "features", label: str = "label"
) -> Any:
    """An RDD of ``(index, x, y)`` with one element per partition, from any supported source."""
    default = partitions or sc.defaultParallelism
    if isinstance(data, np.ndarray) or _arrays(data):
        if y is None:
            raise InputError("give the labels: fit_spark(model, x, y)")
        ys = [np.asarray(a) for a in y] if _arrays(y) else np.asarray(y)
        if count(ys) != count(data):
            raise InputError(f"x has {count(data)} examples but y has {count(ys)}")
        bounds = np.linspace(0, count(data), default + 1).astype(np.int64)
        parts = [
            (i, take(data, slice(bounds[i], bounds[i + 1])), take(ys, slice(bounds[i], bounds[i + 1])))
            for i in range(default)
        ]
        return sc.parallelize(parts, default)
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.exists():
            raise InputError(f"{path}: no such data file or folder")
        files = _shard_files(path)
        if files:
            return _files_to_blobs(sc, files, partitions or len(files))
        from pyspark.sql import SparkSession

        frame = SparkSession.builder.getOrCreate().read.parquet(str(path))
        return to_partitions(frame, None, sc, partitions, features, label)
    if hasattr(data, "rdd") and hasattr(data, "columns"):
        return _pairs_to_blobs(_ordered(_dataframe_rows(data, features, label), partitions))
    if hasattr(data, "mapPartitionsWithIndex"):
        rows = data if y is None else None
        if rows is None:
            raise InputError("an RDD carries its labels: give an RDD of (features, label) pairs and no y")
        return _pairs_to_blobs(_ordered(rows, partitions))
    raise InputError(
        f"fit_spark cannot train on a {type(data).__name__}: give NumPy arrays, an RDD of "
        "(features, label) pairs, a DataFrame, or a path to Parquet or .npz/.npy shards"
    )


def prepare(
    data: Any,
    y: Any,
    sc: Any,
    partitions: int | None = None,
    features: str | list[str] = "features",
    label: str = "label",
    into_workers: bool = True,
) -> ShardedData:
    """Partition and cache the data, load it into the Python workers, and describe it for the driver.

    ``into_workers=False`` skips the load job, for the barrier engine, whose long-lived tasks read their
    partition from the RDD themselves.
    """
    from pyspark import StorageLevel

    from sudoless.nn.spark.session import local_workers_run_this_python

    local_workers_run_this_python(sc)
    rdd = to_partitions(data, y, sc, partitions, features, label).persist(StorageLevel.MEMORY_AND_DISK)
    key = uuid.uuid4().hex[:12]
    shapes = sorted(
        rdd.map(
            lambda item: (
                item[0],
                count(item[2]),
                input_shape_of(item[1]),
                input_shape_of(item[2]),
                str(np.asarray(item[1][0] if isinstance(item[1], list) else item[1]).dtype),
            )
        ).collect()
    )
    sizes = [s[1] for s in shapes]
    if sum(sizes) == 0:
        raise InputError("the training data has no examples")
    starts = [0, *np.cumsum(sizes).tolist()]
    first = next(s for s in shapes if s[1])
    sharded = ShardedData(key, rdd, [int(s) for s in starts], first[2], first[3], first[4])
    if into_workers:
        load(sharded)
    return sharded


def load(sharded: ShardedData) -> None:
    """Put every partition into the cache of the Python worker that loads it, and into a local spill file."""
    key, starts = sharded.key, sharded.starts

    def put(items: Iterator[tuple[int, Array, Array]]) -> Iterator[int]:
        for index, x, y in items:
            remember(key, index, Shard(starts[index], x, y), spill=True)
            yield index

    sharded.rdd.mapPartitions(put).count()


def release(sharded: ShardedData, sc: Any) -> None:
    """Drop the JVM copy and, best effort, the worker caches and spill files of this data set."""
    key = sharded.key

    def drop(items: Iterator[Any]) -> Iterator[int]:
        list(items)
        forget(key)
        yield 0

    try:
        sc.parallelize(range(sharded.partitions), sharded.partitions).mapPartitions(drop).count()
    finally:
        sharded.rdd.unpersist()


# -- worker side -------------------------------------------------------------------------------------------

_CACHE: dict[tuple[str, int], Shard] = {}


def spill_folder(key: str) -> Path:
    """Where this host's workers spill data set ``key``: a folder of the worker's own Unix user in the temp
    folder. A name shared by every user would let the first one (or anyone who creates it first) own it, and
    the others' training would fail or read planted files."""
    return Path(tempfile.gettempdir()) / f"{SPILL_ROOT}-{os.getuid()}" / key


def _own_folder(folder: Path) -> None:
    """Create ``folder`` private to this user, refusing a parent that is a link or belongs to someone else."""
    root = folder.parent
    with contextlib.suppress(FileExistsError):  # a file of that name: refused just below
        root.mkdir(mode=0o700, exist_ok=True)
    info = root.lstat()
    if not root.is_dir() or root.is_symlink() or info.st_uid != os.getuid():
        raise SudolessError(f"{root} is not a folder of this user's: remove it, or set TMPDIR to a private folder")
    folder.mkdir(mode=0o700, exist_ok=True)


def remember(key: str, index: int, shard: Shard, spill: bool = False) -> None:
    _CACHE[(key, index)] = shard
    if spill:
        folder = spill_folder(key)
        _own_folder(folder)
        for name, array in (("x", shard.x), ("y", shard.y)):
            if isinstance(array, list):  # several inputs or outputs: one .npz, its arrays in order
                target = folder / f"{index}.{name}.npz"
                tmp = folder / f".{index}.{name}.{os.getpid()}.npz"
                np.savez(tmp, *array)
            else:
                target = folder / f"{index}.{name}.npy"
                tmp = folder / f".{index}.{name}.{os.getpid()}.npy"
                np.save(tmp, array)
            os.replace(tmp, target)
        (folder / f"{index}.start").write_text(str(shard.start))


def shard(key: str, index: int) -> Shard:
    """Partition ``index`` of data set ``key`` in this worker: from the cache, else from the spill file."""
    found = _CACHE.get((key, index))
    if found is not None:
        return found
    folder = spill_folder(key)
    try:
        start = int((folder / f"{index}.start").read_text())
        x = _load_spilled(folder, index, "x")
        y = _load_spilled(folder, index, "y")
    except (OSError, ValueError):
        raise ShardMissing(f"partition {index} of data set {key} is not on this host") from None
    found = _CACHE[(key, index)] = Shard(start, x, y)
    return found


def _load_spilled(folder: Path, index: int, name: str) -> Any:
    several = folder / f"{index}.{name}.npz"
    if several.exists():
        with np.load(several) as data:
            return [data[f"arr_{i}"] for i in range(len(data.files))]
    return np.load(folder / f"{index}.{name}.npy", mmap_mode="r")


def forget(key: str) -> None:
    for cached in [k for k in _CACHE if k[0] == key]:
        del _CACHE[cached]
    # Several workers of one host may remove the same folder at once.
    shutil.rmtree(spill_folder(key), ignore_errors=True)
