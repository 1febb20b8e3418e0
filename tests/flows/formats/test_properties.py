"""Java ``.properties`` parsing: separators, comments, continuations, escapes and file decoding."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sudoless.errors import InputError
from sudoless.flows.formats import properties
from sudoless.flows.formats.properties import (
    parse_properties,
    parse_properties_with_lines,
    read_properties,
    read_properties_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key=value", {"key": "value"}),
        ("key: value", {"key": "value"}),
        ("key value", {"key": "value"}),
        ("key\tvalue", {"key": "value"}),
        ("key\fvalue", {"key": "value"}),
        ("key = value", {"key": "value"}),
        ("key  :\t value", {"key": "value"}),
        ("key   value", {"key": "value"}),
        ("key = = value", {"key": "= value"}),
        ("key==value", {"key": "=value"}),
        ("key:=value", {"key": "=value"}),
        ("key =:value", {"key": ":value"}),
        ("key", {"key": ""}),
        ("key=", {"key": ""}),
        ("key   ", {"key": ""}),
        ("   key=value", {"key": "value"}),
        ("\t\fkey=value", {"key": "value"}),
        ("key=value   ", {"key": "value   "}),
        ("key=a=b:c d", {"key": "a=b:c d"}),
        ("key=v # not a comment", {"key": "v # not a comment"}),
        ("=value", {"": "value"}),
        (":value", {"": "value"}),
        ("k=1\nk=2", {"k": "2"}),
        ("a=1\r\nb=2\rc=3\n", {"a": "1", "b": "2", "c": "3"}),
        ("a=1\x0bb=2", {"a": "1\x0bb=2"}),
        ("a=1\x85b\u2028c", {"a": "1\x85b\u2028c"}),
        ("", {}),
    ],
)
def test_separators_and_layout(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# comment\nk=v", {"k": "v"}),
        ("! comment\nk=v", {"k": "v"}),
        ("   # indented comment\nk=v", {"k": "v"}),
        ("\t! indented bang\nk=v", {"k": "v"}),
        ("\n\n   \n\t\nk=v\n\n", {"k": "v"}),
        ("#k=v", {}),
        ("# comment ending in backslash \\\nk=v", {"k": "v"}),
        ("k=v\n#k=w", {"k": "v"}),
    ],
)
def test_comments_and_blank_lines(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"k=a\tb", {"k": "a\tb"}),
        (r"k=a\nb", {"k": "a\nb"}),
        (r"k=a\rb", {"k": "a\rb"}),
        (r"k=a\fb", {"k": "a\fb"}),
        (r"k=\u0041\u00e9\u4e2d", {"k": "Aé中"}),
        (r"k=\u00E9", {"k": "é"}),
        (r"k=\uD83D\uDE00", {"k": "\U0001f600"}),
        (r"k=a\\b", {"k": "a\\b"}),
        (r"k=\=\:\ \#\!", {"k": "=: #!"}),
        (r"k=\q\z\"\'", {"k": "qz\"'"}),
        (r"k=\ leading space", {"k": " leading space"}),
        (r"a\=b=c", {"a=b": "c"}),
        (r"a\:b:c", {"a:b": "c"}),
        (r"a\ b c", {"a b": "c"}),
        (r"a\tb=c", {"a\tb": "c"}),
        (r"a\\=b", {"a\\": "b"}),
        (r"\#notcomment=x", {"#notcomment": "x"}),
        (r"k\u00e9y=v", {"kéy": "v"}),
        ("k=caf\u00e9", {"k": "café"}),
    ],
)
def test_escapes(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k=a\\\n  b", {"k": "ab"}),
        ("k=a \\\n  b", {"k": "a b"}),
        ("k=one\\\n two\\\n\t\fthree", {"k": "onetwothree"}),
        ("ke\\\n  y=v", {"key": "v"}),
        ("k\\\n  =v", {"k": "v"}),
        ("k=a\\\n#b", {"k": "a#b"}),
        ("k=a\\\n!b", {"k": "a!b"}),
        ("k=a\\\\\nb=c", {"k": "a\\", "b": "c"}),
        ("k=a\\\\\\\n  b", {"k": "a\\b"}),
        ("k=a\\\n\nb=c", {"k": "a", "b": "c"}),
        ("k=a\\\n   \nb=c", {"k": "a", "b": "c"}),
        ("k=a\\", {"k": "a"}),
        ("k=a\\\r\n  b\r\nc=d", {"k": "ab", "c": "d"}),
        ("k=a\\\r  b", {"k": "ab"}),
        ("k=\\\n  value", {"k": "value"}),
        ("k=a\\\n  \\u0041", {"k": "aA"}),
    ],
)
def test_continuation_lines(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


def test_lines_point_at_the_start_of_each_entry() -> None:
    text = "# header\n\na=1\nb=two\\\n   lines\n  c : 3\n! note\nd\na=again\n"
    assert parse_properties_with_lines(text) == {
        "b": ("twolines", 4),
        "c": ("3", 6),
        "d": ("", 8),
        "a": ("again", 9),
    }


def test_later_duplicate_wins_and_moves_last() -> None:
    assert list(parse_properties("a=1\nb=2\na=3")) == ["b", "a"]
    assert parse_properties("a=1\nb=2\na=3") == {"b": "2", "a": "3"}


@pytest.mark.parametrize("bad", [r"k=\u12G4", r"k=\u12", "k=\\u"])
def test_malformed_unicode_escape_names_the_line(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_properties("ok=1\n" + bad)
    assert str(caught.value).startswith("line 2: malformed \\uxxxx encoding")


def test_read_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "a.job"
    path.write_bytes("type=command\ncommand=echo café\n".encode())
    assert read_properties(path) == {"type": "command", "command": "echo café"}


def test_read_strips_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.properties"
    path.write_bytes(b"\xef\xbb\xbftype=noop\nname=\xc3\xa9\n")
    assert read_properties(path) == {"type": "noop", "name": "é"}
    assert read_properties_text(path) == "type=noop\nname=é\n"


def test_read_falls_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "a.properties"
    path.write_bytes(b"name=caf\xe9\nsign=\xa7\n")
    assert read_properties(path) == {"name": "café", "sign": "§"}


def test_read_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.job"
    path.write_bytes(b"type=command\ncommand=\\uZZZZ\n")
    with pytest.raises(InputError) as caught:
        read_properties(path)
    assert str(caught.value).startswith(f"{path}: line 2: malformed \\uxxxx encoding")


def test_a_line_without_a_backslash_splits_as_the_escaped_path_splits_it() -> None:
    """``_split_entry`` splits lines without a backslash by a regular expression: every line of up to five
    characters of separators, blanks and text splits as the general path (Java's rules, escapes and all) does."""
    lines = ["".join(chars) for size in range(6) for chars in itertools.product("a=: \t\fx", repeat=size)]
    assert len(lines) == 19_608
    for line in lines:
        assert properties._split_entry(line, 1) == properties._split_escaped(line, 1), repr(line)


def test_a_text_without_a_backslash_parses_as_line_by_line() -> None:
    """``parse_properties`` finds the entries of a text without a backslash by one regular expression: every text
    of up to five characters of separators, blanks, comment marks, line ends and letters parses as the line by line
    path (Java's rules: a comment or blank line skipped, ``\\r``, ``\\n`` and ``\\r\\n`` ending lines, the last of a
    key given again winning and moving last) parses it."""
    texts = ["".join(chars) for size in range(6) for chars in itertools.product("a=: \t\f#!\r\nb", repeat=size)]
    assert len(texts) == 177_156
    for text in texts:
        expected = {key: value for key, (value, _) in parse_properties_with_lines(text).items()}
        found = parse_properties(text)
        assert list(found.items()) == list(expected.items()), repr(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1\nb=2\na=3\n", [("b", "2"), ("a", "3")]),
        ("  \f\t\n\t# x=1\n! y\r\nkey : value  \r\n\r\n", [("key", "value  ")]),
        ("k\tv w\rempty\n=v\n:v", [("k", "v w"), ("empty", ""), ("", "v")]),
        ("   \n\t", []),
    ],
)
def test_plain_texts(text: str, expected: list[tuple[str, str]]) -> None:
    assert list(parse_properties(text).items()) == expected
