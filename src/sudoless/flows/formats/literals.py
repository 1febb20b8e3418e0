"""Backslash escapes in quoted strings, shared by the two expression languages Azkaban projects use:
JEXL in ``$( ... )`` property values and JavaScript in ``condition`` expressions."""

from __future__ import annotations

from collections.abc import Mapping

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def unescape(body: str, escapes: Mapping[str, str], hex_widths: Mapping[str, int]) -> str:
    """Resolve ``\\n``-style ``escapes`` and ``\\uXXXX``-style escapes (``hex_widths`` maps the letter to
    its digit count); a backslash before any other character yields that character, as both languages do."""
    if "\\" not in body:
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            escaped = body[index + 1]
            width = hex_widths.get(escaped)
            if width:
                digits = body[index + 2 : index + 2 + width]
                if len(digits) == width and _HEX_DIGITS.issuperset(digits):
                    out.append(chr(int(digits, 16)))
                    index += 2 + width
                    continue
            out.append(escapes.get(escaped, escaped))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)
