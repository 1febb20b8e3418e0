"""Request parameters as Azkaban's servlets see them.

Azkaban reads parameters with ``request.getParameter``: the query string and an urlencoded (or multipart)
body are merged, and the first value of a name wins. Integer parameters that are missing or not numbers
make the servlet throw, which Jetty turns into an HTTP 500 page; booleans follow Java's
``Boolean.parseBoolean`` (``true`` in any case, everything else false). Bodies are read with a size
limit, counted as they arrive, so a chunked upload without Content-Length cannot exceed it either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

__all__ = ["BadBody", "BodyTooLarge", "MissingParameter", "Params", "emails", "read_params"]

#: Azkaban's (Jetty's) limit for urlencoded form bodies.
MAX_FORM_BYTES = 10 << 20
_JAVA_INT = re.compile(r"[+-]?[0-9]{1,19}")


class MissingParameter(Exception):
    """A required parameter is missing or malformed; rendered as Jetty's 500 page, as Azkaban does."""


class BodyTooLarge(Exception):
    """The request body is larger than the limit for its kind."""


class BadBody(Exception):
    """The body could not be parsed (a malformed multipart stream)."""


@dataclass
class Params:
    """Merged query and body parameters; uploaded files are kept apart in ``files``."""

    items: list[tuple[str, str]]
    files: dict[str, UploadFile] = field(default_factory=dict)
    multipart: bool = False

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.items:
            if key == name:
                return value
        return default

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.items) or name in self.files

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise MissingParameter(f"Missing required parameter '{name}'.")
        return value

    def integer(self, name: str, default: int | None = None, bits: int = 64) -> int:
        """An int parameter; missing without a default, or not a number, is a MissingParameter (500).

        ``bits`` is the Java type's width: 64 (``getLongParam``, and wide enough for epoch ms) by default,
        32 (``getIntParam``) where sums of parameters must stay within what the database can bind.
        """
        value = self.get(name)
        if value is None:
            if default is None:
                raise MissingParameter(f"Missing required parameter '{name}'.")
            return default
        text = value.strip()
        # Java's Integer.parseInt: ASCII digits with an optional sign, within 32 bits. Python's int() would
        # also take "1_000", other scripts' digits and any size, which the database cannot bind.
        if not _JAVA_INT.fullmatch(text) or not -(1 << (bits - 1)) <= int(text) < (1 << (bits - 1)):
            raise MissingParameter(f'For input string: "{value[:100]}"')
        return int(text)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None:
            return default
        return value.strip().lower() == "true"

    def group(self, prefix: str) -> dict[str, str]:
        """``prefix[key]=value`` parameters as ``{key: value}`` (Azkaban's ``getParamGroup``)."""
        out: dict[str, str] = {}
        start = prefix + "["
        for key, value in self.items:
            if key.startswith(start) and key.endswith("]"):
                out.setdefault(key[len(start) : -1], value)
        return out

    def nested_group(self, prefix: str) -> dict[str, dict[str, str]]:
        """``prefix[outer][inner]=value`` parameters as ``{outer: {inner: value}}``."""
        out: dict[str, dict[str, str]] = {}
        for key, value in self.group(prefix).items():
            outer, sep, inner = key.partition("][")
            if sep:
                out.setdefault(outer, {}).setdefault(inner, value)
        return out

    def file(self, name: str) -> UploadFile | None:
        return self.files.get(name)

    def close(self) -> None:
        for upload in self.files.values():
            upload.file.close()


async def read_params(request: Request, max_upload_bytes: int, max_form_bytes: int = MAX_FORM_BYTES) -> Params:
    """Parse the query string and, for POST, an urlencoded or multipart body, within the size limits."""
    query = list(request.query_params.multi_items())
    if request.method != "POST":
        _check_text(Params(query))
        return Params(query)
    content_type = request.headers.get("content-type", "").lower()
    multipart = content_type.startswith("multipart/")
    if not multipart and not content_type.startswith("application/x-www-form-urlencoded"):
        _check_text(Params(query))
        return Params(query)
    limit = max_upload_bytes if multipart else max_form_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdecimal() and int(declared) > limit:
        raise BodyTooLarge(_too_large(limit, multipart))
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(_too_large(limit, multipart))
        return message

    limited = Request(request.scope, receive)
    try:
        form = await limited.form(max_files=16, max_fields=10_000)
    except BodyTooLarge:
        raise
    except Exception as exc:  # python-multipart and Starlette raise several types for a malformed body
        raise BadBody(f"cannot read the request body: {exc}") from None
    items = list(query)
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            items.append((key, value))
        elif key not in files:
            files[key] = value
    params = Params(items, files, multipart)
    _check_text(params)
    return params


def _check_text(params: Params) -> None:
    """Refuse NUL characters: no name or value sudoless stores can hold one (PostgreSQL rejects them in
    text), so such a request can only fail later, and deeper."""
    for key, value in params.items:
        if "\x00" in key or "\x00" in value:
            params.close()
            raise BadBody(f"parameter {key[:100]!r} contains a NUL character")


def _too_large(limit: int, multipart: bool) -> str:
    kind = "upload" if multipart else "form body"
    return f"The {kind} is larger than the limit of {limit} bytes."


def emails(text: str | None) -> tuple[str, ...]:
    """An email list split like Azkaban's ``\\s*,\\s*|\\s*;\\s*|\\s+``."""
    if not text or not text.strip():
        return ()
    return tuple(e for e in re.split(r"\s*,\s*|\s*;\s*|\s+", text.strip()) if e)
