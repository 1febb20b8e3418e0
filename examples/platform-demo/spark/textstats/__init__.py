"""A tiny package that exists only in the demo's packed environment: Spark's executors import it from there."""

import re

WORD = re.compile(r"[a-z']+")


def words(line):
    """The lower-case words of one line of text."""
    return WORD.findall(line.lower())
