"""Responses the way Azkaban's servlets write them.

JSON goes through Jackson's ``writerWithDefaultPrettyPrinter``: two-space indented objects with
``"key" : value`` (a space on both sides of the colon, which the ``azkaban`` client greps for), arrays
kept on one line (``[ "a", "b" ]``, ``[ {`` ... ``}, {`` ... ``} ]``), ``{ }`` and ``[ ]`` when empty,
no trailing newline, ``Content-Type: application/json`` without a charset. Most errors travel in the
body with HTTP 200; the few statuses Azkaban sets are passed explicitly.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from enum import Enum
from html.entities import codepoint2name
from json.encoder import encode_basestring
from typing import Any

from starlette.responses import Response

__all__ = ["compact_json", "escape_html", "jetty_error", "json_response", "pretty_json", "text_response"]


def pretty_json(value: Any) -> str:
    """``value`` rendered exactly like Jackson's DefaultPrettyPrinter."""
    parts: list[str] = []
    _write(value, "\n", parts)
    return "".join(parts)


#: Scalars of the exact built-in types, rendered without going through ``json.dumps`` (which builds an
#: encoder per call): rendering was a fifth of the time of a ``fetchexecflow`` request.
_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    bool: lambda b: "true" if b else "false",
    type(None): lambda _: "null",
}


def _write(value: Any, newline: str, out: list[str]) -> None:
    """Append ``value`` to ``out``; ``newline`` is a line break followed by the indentation of its level."""
    kind = type(value)
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        out.append(scalar(value))
    elif kind is dict:
        _write_object(value, newline, out)
    elif kind is list or kind is tuple:
        _write_array(value, newline, out)
    elif isinstance(value, Enum):
        _write(value.value, newline, out)
    elif isinstance(value, Mapping):
        _write_object(value, newline, out)
    elif isinstance(value, list | tuple | set | frozenset):
        _write_array(value, newline, out)
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    else:
        out.append(json.dumps(value))


def _write_object(value: Mapping[Any, Any], newline: str, out: list[str]) -> None:
    if not value:
        out.append("{ }")
        return
    inner = newline + "  "
    separator = "{" + inner
    for key, item in value.items():
        out.append(separator)
        out.append(encode_basestring(key if type(key) is str else str(key)))
        out.append(" : ")
        _write(item, inner, out)
        separator = "," + inner
    out.append(newline + "}")


def _write_array(value: Any, newline: str, out: list[str]) -> None:
    if not value:
        out.append("[ ]")
        return
    separator = "[ "
    for item in value:
        out.append(separator)
        # Jackson's array indenter is inline: objects inside arrays keep the enclosing level.
        _write(item, newline, out)
        separator = ", "
    out.append(" ]")


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def json_response(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        pretty_json(value).encode(), status_code=status, media_type="application/json", headers=dict(headers or {})
    )


def text_response(text: str, status: int = 200, media_type: str | None = "text/plain") -> Response:
    return Response(text.encode(), status_code=status, media_type=media_type)


def escape_html(text: str) -> str:
    """commons-lang 2 ``StringEscapeUtils.escapeHtml``: ``& < > "`` and every non-ASCII character become
    entities (named where HTML 4 has a name, numeric otherwise); ``'`` stays."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '&<>"' or code > 0x7F:
            name = codepoint2name.get(code)
            out.append(f"&{name};" if name else f"&#{code};")
        else:
            out.append(ch)
    return "".join(out)


def jetty_error(path: str, message: str, status: int = 500) -> Response:
    """What Jetty shows when an exception escapes a servlet (a missing or non-numeric parameter)."""
    reason = html.escape(message)
    body = (
        f'<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>\n'
        f"<title>Error {status} {reason}</title>\n</head>\n<body><h2>HTTP ERROR {status}</h2>\n"
        f"<p>Problem accessing {html.escape(path)}. Reason:\n<pre>    {reason}</pre></p>\n"
        "</body>\n</html>\n"
    )
    return Response(body.encode(), status_code=status, media_type="text/html")
