"""Reading IDX files, the format MNIST (and Fashion-MNIST, EMNIST, KMNIST) is distributed in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), each dimension
as a big-endian 32-bit integer, then the values in row-major order, big-endian. Files may be gzipped (the
usual download) or not; both are read. Nothing is fetched from the network: the user points at the files.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from sudoless.errors import InputError

#: IDX type codes and the big-endian NumPy types they hold.
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: The standard MNIST file names, without the optional ``.gz``.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """The array an IDX file holds (gzipped if its first two bytes say so), in native byte order."""
    file = Path(path)
    raw = file.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{file}: a broken gzip file ({exc})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in TYPES:
        raise InputError(f"{file}: not an IDX file (it must start with 00 00, a type code and a dimension count)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{file}: the IDX header is cut short")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(
            f"{file}: the header announces {shape} ({expected} bytes of data), the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_mnist_file(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise InputError(f"{folder}: no {name} or {name}.gz; give the folder holding the four MNIST IDX files")
