"""Where the tests' own input files are: tests/fixtures, found from this file (never an absolute path)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: Azkaban projects written for these tests, one folder each (tests/fixtures/azkaban/README.md says what each
#: one exercises and the outcome Azkaban gives for it).
AZKABAN_PROJECTS = FIXTURES / "azkaban"
