"""PyMySQL connections that read a result set with less Python work per column and per packet.

PyMySQL parses the MySQL protocol in Python, and most of that work goes into the column descriptions the
server sends before the rows of every result set: one packet per column, six length-coded strings and a
struct each, parsed into an object, then a converter chosen for the column. An execution read with its
project (27 columns, one row) cost 1.55 M instructions in PyMySQL, and every request of the HTTP server runs
two to eight statements (benchmarks/README.md, "What every request pays, second session").

A result set's column descriptions are the same bytes every time the same statement runs, so
:class:`Connection` keeps each description parsed, keyed by its packet's bytes (shared by every connection
of the process, bounded), and looks it up instead of parsing it again. It also reads each packet's payload
without wrapping it in a packet object, and splits a row's length-coded values in one loop. What a query
returns is what PyMySQL returns (the same converters, encodings, descriptions, warnings and errors;
tests/flows/test_mysql_results.py compares the two on every column type of the schema and more): the same
execution read costs 0.48 M instructions, a job run list of ten rows 0.75 M instead of 1.72 M (callgrind).

Unbuffered queries (``SSCursor``; sudoless uses none) and everything else go through PyMySQL's own code.
:func:`connection_class` falls back to PyMySQL's class when its internals are not those this module was
written against.
"""

from __future__ import annotations

import struct
from typing import Any

import pymysql
from pymysql import converters, err
from pymysql.connections import MAX_PACKET_LEN, TEXT_TYPES, MySQLResult
from pymysql.constants import CR, FIELD_TYPE, SERVER_STATUS
from pymysql.protocol import FieldDescriptorPacket, MysqlPacket

__all__ = ["Connection", "connection_class"]

#: Column descriptions kept per connection encoding (names are decoded with it); cleared when full. A server
#: runs a few hundred statements of a few dozen columns: some thousands of descriptions.
DESCRIPTIONS_KEPT = 8192

_Description = tuple[FieldDescriptorPacket, tuple[Any, ...], tuple[int, int]]
_DESCRIPTIONS: dict[str, dict[bytes, _Description]] = {}

_HEADER = struct.Struct("<HBB").unpack
_U16 = struct.Struct("<H").unpack_from
_U24 = struct.Struct("<HB").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_EOF_STATUS = struct.Struct("<hh").unpack_from
_MORE_RESULTS = SERVER_STATUS.SERVER_MORE_RESULTS_EXISTS


#: the PyMySQL releases whose internals this module was written against and tested with: 1.2.1 brought the
#: per-query read timeout (``_current_timeout``) that :meth:`Connection._read_payload` keeps as PyMySQL does;
#: the 1.1 releases have the same method names without it. A later minor release is used as it is until checked.
TESTED = ((1, 2, 1), (1, 3, 0))


def connection_class() -> type[Any]:
    """:class:`Connection` when PyMySQL is a release it was tested with and has the methods it builds on, else
    PyMySQL's own class."""
    base: type[Any] = pymysql.connections.Connection
    result: type[Any] = MySQLResult
    version = tuple(v for v in pymysql.VERSION[:3] if isinstance(v, int))
    if (
        TESTED[0] <= version < TESTED[1]
        and all(hasattr(base, name) for name in ("_read_bytes", "_force_close", "_read_query_result"))
        and all(hasattr(result, name) for name in ("_get_descriptions", "_read_rowdata_packet", "_read_result_packet"))
    ):
        return Connection
    return base


class Connection(pymysql.connections.Connection):  # type: ignore[misc]
    """PyMySQL's connection, reading buffered result sets through :class:`_Result`."""

    # PyMySQL's, set by its constructor
    _current_timeout: float | None
    _read_timeout: float | None
    _next_seq_id: int
    _sock: Any
    encoding: str
    use_unicode: bool
    decoders: dict[int, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: (field type, character set) -> (encoding, converter) of a column, as PyMySQL chooses them
        self._conversions: dict[tuple[int, int], tuple[str | None, Any]] = {}
        super().__init__(*args, **kwargs)

    def _read_payload(self) -> bytes:
        """The next packet's payload, read and checked as ``_read_packet`` does, without a packet object."""
        if self._current_timeout != self._read_timeout:
            self._sock.settimeout(self._read_timeout)
            self._current_timeout = self._read_timeout
        read = self._read_bytes
        parts: list[bytes] = []
        while True:
            low, high, number = _HEADER(read(4))
            if number != self._next_seq_id:
                self._out_of_sequence(number)
            self._next_seq_id = (number + 1) % 256
            size = low + (high << 16)
            data: bytes = read(size)
            if size < MAX_PACKET_LEN:
                break
            parts.append(data)  # a payload of 16 MiB or more comes in several packets
        if parts:
            data = b"".join([*parts, data])
        if data[0] == 0xFF:
            MysqlPacket(data, self.encoding).raise_for_error()
        return data

    def _out_of_sequence(self, number: int) -> None:
        self._force_close()
        if number == 0:  # MariaDB's error packet on shutdown
            raise err.OperationalError(CR.CR_SERVER_LOST, "Lost connection to MySQL server during query")
        raise err.InternalError(f"Packet sequence number wrong - got {number} expected {self._next_seq_id}")

    def _conversion(self, kind: tuple[int, int]) -> tuple[str | None, Any]:
        """PyMySQL's choice of encoding and converter for a column of this type and character set."""
        field_type, charset = kind
        encoding: str | None
        if not self.use_unicode:
            encoding = None
        elif field_type == FIELD_TYPE.JSON:
            encoding = self.encoding
        elif field_type in TEXT_TYPES:
            encoding = None if charset == 63 else self.encoding  # 63: binary
        else:
            encoding = "ascii"
        converter = self.decoders.get(field_type)
        if converter is converters.through:
            converter = None
        self._conversions[kind] = found = (encoding, converter)
        return found

    def _read_query_result(self, unbuffered: bool = False) -> Any:
        if unbuffered:
            return super()._read_query_result(unbuffered)
        self._result = None
        result = _Result(self)
        result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows


def _describe(data: bytes, encoding: str) -> _Description:
    field = FieldDescriptorPacket(data, encoding)
    return field, field.description(), (field.type_code, field.charsetnr)


class _Result(MySQLResult):  # type: ignore[misc]
    # PyMySQL's, set by its constructor and the reads
    connection: Any
    affected_rows: int | None
    server_status: int | None

    def _get_descriptions(self) -> None:
        connection: Connection = self.connection
        kept = _DESCRIPTIONS.get(connection.encoding)
        if kept is None:
            kept = _DESCRIPTIONS.setdefault(connection.encoding, {})
        conversions = connection._conversions
        fields, description, chosen = [], [], []
        for _ in range(self.field_count):
            data = connection._read_payload()
            found = kept.get(data)
            if found is None:
                if len(kept) >= DESCRIPTIONS_KEPT:
                    kept.clear()
                kept[data] = found = _describe(data, connection.encoding)
            fields.append(found[0])
            description.append(found[1])
            chosen.append(conversions.get(found[2]) or connection._conversion(found[2]))
        end = connection._read_payload()
        assert end[0] == 0xFE and len(end) < 9, "Protocol error, expecting EOF"
        self.fields = fields
        self.converters = chosen
        self.description = tuple(description)

    def _read_rowdata_packet(self) -> None:
        connection: Connection = self.connection
        columns = self.converters
        rows = []
        while True:
            data = connection._read_payload()
            end = len(data)
            if data[0] == 0xFE and end < 9:  # EOF: warnings and status follow
                self.warning_count, status = _EOF_STATUS(data, 1)
                self.has_next = status & _MORE_RESULTS
                self.connection = None
                break
            row: list[Any] = []
            position = 0
            for encoding, converter in columns:
                if position >= end:  # fewer values than columns: PyMySQL stops the row there too
                    break
                length = data[position]
                position += 1
                if length >= 251:
                    if length == 251:  # NULL
                        row.append(None)
                        continue
                    if length == 252:
                        length = _U16(data, position)[0]
                        position += 2
                    elif length == 253:
                        low, high = _U24(data, position)
                        length = low + (high << 16)
                        position += 3
                    else:
                        length = _U64(data, position)[0]
                        position += 8
                value: Any = data[position : position + length]
                position += length
                if encoding is not None:
                    value = value.decode(encoding)
                if converter is not None:
                    value = converter(value)
                row.append(value)
            if position > end:
                raise err.InternalError("a row's value runs past the end of its packet")
            rows.append(tuple(row))
        self.affected_rows = len(rows)
        self.rows = tuple(rows)
