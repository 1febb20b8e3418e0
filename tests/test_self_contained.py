"""The repository stands alone: no tracked file points at material outside it.

A clone on another machine has no reference folder beside it and no fixed path of the machine it was built on,
so a test fixture, a link or a comment that leads there is broken for every reader. Tests keep their fixtures
under tests/fixtures, docs live in docs/, and benchmarks take their downloaded instances from an option.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Written in pieces so that this file does not match itself.
SHARED = "shared"
FORBIDDEN = re.compile(
    "|".join(
        [
            re.escape("../" + SHARED),
            re.escape(SHARED + "/research"),
            re.escape(SHARED + "/azkaban"),
            "SUDOLESS_" + SHARED.upper(),
            # an absolute path of this machine (a folder named work inside another path is not one)
            r"(?<![\w}.\-])/wo" + r"rk/",
        ]
    )
)


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an sdist or an installed copy): nothing to list with git ls-files")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name]


def references(text: str) -> list[tuple[int, str]]:
    """(line number, matched text) for every forbidden reference in ``text``."""
    return [
        (number, match.group(0))
        for number, line in enumerate(text.splitlines(), start=1)
        for match in FORBIDDEN.finditer(line)
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see ../" + SHARED + "/x.md", ["../" + SHARED]),
        ("notes in " + SHARED + "/research/a.md", [SHARED + "/research"]),
        (SHARED + "/azkaban-examples/README.md", [SHARED + "/azkaban"]),
        ("export SUDOLESS_" + SHARED.upper() + "=1", ["SUDOLESS_" + SHARED.upper()]),
        ('path = "/wo' + 'rk/main"', ["/wo" + "rk/"]),
        ("cd /wo" + "rk/main", ["/wo" + "rk/"]),
        ('f"{overlay}/wo' + 'rk/app-"', []),
        ("spark/wo" + "rk/app-1 and home/wo" + "rk/", []),
        ("a shared machine, research notes of our own", []),
    ],
)
def test_the_patterns_find_what_they_should(text: str, found: list[str]) -> None:
    assert [match for _, match in references(text)] == found


def test_no_tracked_file_refers_outside_the_repository() -> None:
    problems = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():  # deleted in the working tree but still tracked
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        problems += [f"{name}:{number}: {match}" for number, match in references(text)]
    assert not problems, "references to material outside the repository:\n" + "\n".join(problems)
