"""Reading and fixing the library search path (DT_RUNPATH / DT_RPATH) of ELF files, in pure Python.

An interpreter built with ``--enable-shared`` (pyenv, many source builds) finds ``libpython`` through an
absolute RUNPATH such as ``/home/me/.pyenv/versions/3.11.7/lib``; shipped elsewhere it would load nothing,
or the build machine's copy. The fix is an ``$ORIGIN``-relative path. The new string is written over the
old one in the string table, so it must not be longer; an ``$ORIGIN`` path to a nearby folder always is
shorter than the absolute path it replaces, and no tool (patchelf) is needed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 0, 1, 5, 15, 29
_PT_LOAD, _PT_DYNAMIC = 1, 2


@dataclass(frozen=True)
class DynamicInfo:
    """What the dynamic section says: needed libraries, and each search-path entry's tag, file offset of its
    string and the string itself."""

    needed: tuple[str, ...]
    paths: tuple[tuple[int, int, str], ...]  # (tag, file offset of the string, value)

    @property
    def runpath(self) -> str:
        return ":".join(value for _, _, value in self.paths)


def is_elf(head: bytes | bytearray) -> bool:
    return head[:4] == b"\x7fELF"


def _string(data: bytes | bytearray, offset: int) -> str:
    end = data.index(b"\0", offset)
    return bytes(data[offset:end]).decode("utf-8", "surrogateescape")


def read_dynamic(data: bytes | bytearray) -> DynamicInfo | None:
    """The dynamic section of a 64- or 32-bit little- or big-endian ELF image; None if it has none or is not
    a well-formed ELF."""
    if not is_elf(data) or len(data) < 52:
        return None
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    try:
        if wide:
            phoff, phentsize, phnum = (
                struct.unpack_from(order + "Q", data, 32)[0],
                *struct.unpack_from(order + "HH", data, 54),
            )
            phfmt, dynfmt = order + "IIQQQQQQ", order + "qQ"
        else:
            phoff, phentsize, phnum = (
                struct.unpack_from(order + "I", data, 28)[0],
                *struct.unpack_from(order + "HH", data, 42),
            )
            phfmt, dynfmt = order + "IIIIIIII", order + "iI"
        loads: list[tuple[int, int, int]] = []  # vaddr, offset, filesz
        dynamic: tuple[int, int] | None = None
        for index in range(phnum):
            fields = struct.unpack_from(phfmt, data, phoff + index * phentsize)
            if wide:
                kind, _, offset, vaddr, _, filesz = fields[:6]
            else:
                kind, offset, vaddr, _, filesz = fields[:5]
            if kind == _PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif kind == _PT_DYNAMIC:
                dynamic = (offset, filesz)
        if dynamic is None:
            return None
        entries: list[tuple[int, int]] = []
        size = struct.calcsize(dynfmt)
        for position in range(dynamic[0], dynamic[0] + dynamic[1], size):
            tag, value = struct.unpack_from(dynfmt, data, position)
            if tag == _DT_NULL:
                break
            entries.append((tag, value))
        strtab_vaddr = next((value for tag, value in entries if tag == _DT_STRTAB), None)
        if strtab_vaddr is None:
            return None
        strtab = next(
            (
                offset + strtab_vaddr - vaddr
                for vaddr, offset, filesz in loads
                if vaddr <= strtab_vaddr < vaddr + filesz
            ),
            None,
        )
        if strtab is None:
            return None
        needed = tuple(_string(data, strtab + value) for tag, value in entries if tag == _DT_NEEDED)
        paths = tuple(
            (tag, strtab + value, _string(data, strtab + value))
            for tag, value in entries
            if tag in (_DT_RPATH, _DT_RUNPATH)
        )
    except (struct.error, ValueError, IndexError):
        return None
    return DynamicInfo(needed=needed, paths=paths)


def rewrite_paths(data: bytearray, info: DynamicInfo, new_value: str) -> bool:
    """Overwrite every RUNPATH/RPATH string in ``data`` with ``new_value``, padded with NULs; False (and
    nothing changed) when the new value is longer than an old one."""
    encoded = new_value.encode()
    if any(len(encoded) > len(old.encode("utf-8", "surrogateescape")) for _, _, old in info.paths):
        return False
    for _, offset, old in info.paths:
        length = len(old.encode("utf-8", "surrogateescape"))
        data[offset : offset + length] = encoded.ljust(length, b"\0")
    return True
