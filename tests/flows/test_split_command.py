"""Azkaban's tokenizer of a ``command`` property: spaces separate, quotes group, nothing else is special."""

from __future__ import annotations

import pytest

from sudoless.flows.jobtypes.process import split_command


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("true", ["true"]),
        ("  echo  a\tb\n", ["echo", "a", "b"]),
        ("", []),
        ("   ", []),
        ("echo\u3000x\u00a0y", ["echo", "x", "y"]),  # every space str.isspace() knows, quoted or not
        ("echo 'a b' \"c  d\"", ["echo", "a b", "c  d"]),
        ("echo '' x", ["echo", "", "x"]),
        ("echo a'b c'd", ["echo", "ab cd"]),
        ('echo "it\'s"', ["echo", "it's"]),
        ("a\\ b $HOME;", ["a\\", "b", "$HOME;"]),
    ],
)
def test_split_command(command: str, argv: list[str]) -> None:
    assert split_command(command) == argv
