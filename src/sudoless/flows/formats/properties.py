"""Java ``.properties`` files, read the way ``java.util.Properties.load`` reads them.

Azkaban's Flow 1.0 ``.job`` and ``.properties`` files are this format, so a job's properties only match
Azkaban's if every corner of the syntax does: the three key/value separators, ``#``/``!`` comments,
backslash continuation lines, ``\\uXXXX`` and the other escapes, and "the last duplicate key wins".
This module owns that syntax and nothing else; what the keys mean is up to the loaders.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sudoless.errors import InputError

__all__ = [
    "decode_properties",
    "parse_properties",
    "parse_properties_with_lines",
    "read_properties",
    "read_properties_text",
]

_NEWLINE = re.compile(r"\r\n|\r|\n")
_BLANK = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_HEX = frozenset("0123456789abcdefABCDEF")
_UTF8_BOM = b"\xef\xbb\xbf"


def parse_properties(text: str) -> dict[str, str]:
    """Parse ``.properties`` text into a dict in file order; a key given twice keeps its last value.

    Raises :class:`~sudoless.errors.InputError` (naming the line) for a malformed ``\\uXXXX`` escape,
    which Java rejects too.
    """
    if "\\" not in text:
        # No escapes nor continuations: one regular expression finds every entry, as _logical_lines and
        # _split_entry find them line by line (three quarters of parsing a short .job file)
        pairs = (_PLAIN_LINES if "\r" in text else _PLAIN_LF_LINES).findall(text)
        found = dict(pairs)
        if len(found) == len(pairs):
            return found
        found = {}
        for key, value in pairs:  # a key given again moves last, as below
            found.pop(key, None)
            found[key] = value
        return found
    return {key: value for key, (value, _line) in parse_properties_with_lines(text).items()}


def parse_properties_with_lines(text: str) -> dict[str, tuple[str, int]]:
    """Like :func:`parse_properties`, but each value comes with the 1-based line its key starts on.

    For a duplicate key the line is that of the occurrence that won (the last one), so an error message
    about the value points at the text that produced it.
    """
    result: dict[str, tuple[str, int]] = {}
    for line_number, logical in _logical_lines(text):
        key, value = _split_entry(logical, line_number)
        result.pop(key, None)
        result[key] = (value, line_number)
    return result


def read_properties_text(path: str | os.PathLike[str]) -> str:
    """Decode a properties file: UTF-8 (without its BOM) when the bytes are valid UTF-8, else ISO-8859-1.

    Java reads ``.properties`` as ISO-8859-1, but projects written today are almost always UTF-8; trying
    UTF-8 first keeps both working, since text that is not ASCII is rarely valid in both encodings.
    """
    with open(path, "rb") as stream:
        return decode_properties(stream.read())


def decode_properties(data: bytes) -> str:
    """The text of a properties file's bytes, decoded as :func:`read_properties_text` says."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


def read_properties(path: Path) -> dict[str, str]:
    """Read and parse one ``.properties`` or ``.job`` file (see :func:`read_properties_text`)."""
    try:
        return parse_properties(read_properties_text(path))
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines and drop comments and blank lines, as Java's ``LineReader`` does.

    The returned text still holds its escape sequences; only the backslash that continued a line is gone.
    """
    lines: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    continuing = False
    for number, raw in enumerate(_NEWLINE.split(text), start=1):
        stripped = raw.lstrip(_BLANK)
        if continuing:
            if not stripped:
                lines.append((start, "".join(parts)))
                parts, continuing = [], False
                continue
        else:
            if not stripped or stripped[0] in "#!":
                continue
            start = number
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2:
            parts.append(stripped[:-1])
            continuing = True
        else:
            parts.append(stripped)
            lines.append((start, "".join(parts)))
            parts, continuing = [], False
    if continuing:
        lines.append((start, "".join(parts)))
    return lines


#: a logical line without a backslash, as :func:`_split_escaped` splits it: the key up to the first ``=``, ``:``
#: or blank; blanks, one ``=`` or ``:`` among them, then the value
_PLAIN_ENTRY = re.compile(r"([^=: \t\f]*)[ \t\f]*[=:]?[ \t\f]*(.*)", re.DOTALL)


#: every entry of a text without a backslash, as :func:`_logical_lines` and :func:`_split_entry` find them: at the
#: start of a line (of the text, or after a ``\r`` or ``\n``: the empty line inside a ``\r\n`` holds no entry),
#: blanks, taken whole (``*+``: none given back to make a blank line an empty key), then neither a comment's ``#`` or
#: ``!`` nor the line's end, and the key and value split as :data:`_PLAIN_ENTRY` splits them
_PLAIN_LINES = re.compile(r"(?:\A|(?<=[\r\n]))[ \t\f]*+(?![#!\r\n]|\Z)([^=: \t\f\r\n]*)[ \t\f]*[=:]?[ \t\f]*([^\r\n]*)")
#: the same for a text without a ``\r``, its lines found by ``^`` (``re.MULTILINE``: only after a ``\n``), which the
#: regular expression engine tries at line starts alone (half the work on a short ``.job`` file)
_PLAIN_LF_LINES = re.compile(r"^[ \t\f]*+(?![#!\r\n]|\Z)([^=: \t\f\r\n]*)[ \t\f]*[=:]?[ \t\f]*([^\r\n]*)", re.MULTILINE)


def _split_entry(line: str, line_number: int) -> tuple[str, str]:
    """Split one logical line into its unescaped key and value. Most lines hold no backslash, so nothing to
    unescape nor any escaped separator: one regular expression splits them, where the loop over the key's
    characters took a third of parsing a ``.job`` file."""
    if "\\" not in line:
        key, value = _PLAIN_ENTRY.fullmatch(line).groups()  # type: ignore[union-attr]  # matches any text
        return key, value
    return _split_escaped(line, line_number)


def _split_escaped(line: str, line_number: int) -> tuple[str, str]:
    """Split one logical line into its unescaped key and value, escapes and all."""
    size = len(line)
    key_end = size
    value_start = size
    has_separator = False
    backslash = False
    for index, char in enumerate(line):
        if not backslash and char in "=:":
            key_end, value_start, has_separator = index, index + 1, True
            break
        if not backslash and char in _BLANK:
            key_end, value_start = index, index + 1
            break
        backslash = char == "\\" and not backslash
    while value_start < size:
        char = line[value_start]
        if char not in _BLANK:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return _unescape(line[:key_end], line_number), _unescape(line[value_start:], line_number)


def _unescape(text: str, line_number: int) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    size = len(text)
    while index < size:
        slash = text.find("\\", index)
        if slash < 0:
            out.append(text[index:])
            break
        out.append(text[index:slash])
        if slash + 1 >= size:
            break
        char = text[slash + 1]
        if char == "u":
            digits = text[slash + 2 : slash + 6]
            if len(digits) != 4 or not _HEX.issuperset(digits):
                raise InputError(
                    f"line {line_number}: malformed \\uxxxx encoding "
                    f"({text[slash : slash + 6]!r}); a \\u escape needs four hex digits"
                )
            out.append(chr(int(digits, 16)))
            index = slash + 6
        else:
            out.append(_ESCAPES.get(char, char))
            index = slash + 2
    result = "".join(out)
    if any("\ud800" <= char <= "\udfff" for char in result):
        result = result.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return result
