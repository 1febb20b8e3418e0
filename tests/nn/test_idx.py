"""IDX files (MNIST's format): reading them, and LeNet-5 on MNIST-shaped data through the real CLI.

The files are written here: the 8x8 digits scaled up to 28x28 and stored exactly as MNIST's four files are.
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from nn.test_cli import REPO, assert_one_line_error, sudoless
from sudoless.errors import InputError
from sudoless.nn.data import digits_arrays, mnist
from sudoless.nn.idx import read_idx


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(folder: Path, train: int = 1200, test: int = 400, gz: bool = True) -> None:
    """The 8x8 digits as 28x28 unsigned bytes (each pixel 3x3, a 2-pixel border), in the four MNIST files."""
    pixels, labels = digits_arrays()
    big = np.kron(pixels.reshape(-1, 8, 8), np.ones((3, 3)))
    images = np.pad(big, ((0, 0), (2, 2), (2, 2))) * (255 / 16)
    images, labels = images.round().astype(np.uint8), labels.astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {
        "train-images-idx3-ubyte": images[:train],
        "train-labels-idx1-ubyte": labels[:train],
        "t10k-images-idx3-ubyte": images[train : train + test],
        "t10k-labels-idx1-ubyte": labels[train : train + test],
    }
    for name, array in parts.items():
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


@pytest.mark.parametrize(
    ("array", "code"),
    [
        (np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 0x08),
        (np.array([-3, 7], np.int16), 0x0B),
        (np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2), 0x0D),
        (np.array([[1.5, -2.25]], np.float64), 0x0E),
    ],
)
def test_read_idx_types_plain_and_gzipped(tmp_path: Path, array: np.ndarray, code: int) -> None:
    (tmp_path / "a").write_bytes(idx_bytes(array, code))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array, code)))
    for name in ("a", "a.gz"):
        got = read_idx(tmp_path / name)
        np.testing.assert_array_equal(got, array)
        assert got.dtype == array.dtype and got.dtype.isnative


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n", "not an IDX file"),
        (bytes([0, 0, 8, 3, 0, 0]), "header is cut short"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "announces (5,)"),
        (b"\x1f\x8b\x08\x00garbage", "broken gzip"),
    ],
)
def test_read_idx_refuses_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "bad").write_bytes(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_idx(tmp_path / "bad")


def test_mnist_splits_shapes_and_scaling(tmp_path: Path) -> None:
    write_mnist(tmp_path, train=100, test=30, gz=False)
    data = mnist(tmp_path, validation_fraction=0.2, seed=1)
    assert data.x_train.shape == (80, 28, 28, 1) and data.x_val.shape == (20, 28, 28, 1)
    assert data.x_test.shape == (30, 28, 28, 1) and data.y_test.dtype == np.int64
    assert data.x_train.dtype == np.float32 and data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    flat = mnist(tmp_path, validation_fraction=0.0, images=False, limit=50)
    assert flat.x_train.shape == (50, 784) and flat.x_val is None and flat.x_test.shape == (30, 784)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(InputError, match="no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"):
        mnist(tmp_path)


def test_lenet5_mnist_example_through_the_cli(tmp_path: Path) -> None:
    """examples/nn/lenet5-mnist.yaml as shipped, next to a folder of gzipped IDX files, two epochs."""
    config = tmp_path / "lenet5-mnist.yaml"
    shutil.copy(REPO / "examples" / "nn" / "lenet5-mnist.yaml", config)
    result = sudoless(tmp_path, "nn", "train", str(config), "--epochs", "1", "-o", str(tmp_path / "run"))
    assert_one_line_error(result, "mnist", "no such folder")
    write_mnist(tmp_path / "mnist")
    result = sudoless(tmp_path, "nn", "train", str(config), "--epochs", "3", "-o", str(tmp_path / "run"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["parameters"] == 61706  # LeNet-5's count for 28x28 inputs
    assert report["metrics"]["test_accuracy"] >= 0.85, report["metrics"]
