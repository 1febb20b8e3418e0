"""tests/support/eventually.py: the one poll-until-deadline helper returns what it waited for, and when the
deadline passes its failure says what was awaited and the last value seen (the point of having one helper)."""

from __future__ import annotations

import itertools

import pytest

from support.eventually import eventually


def test_returns_the_first_value_that_holds() -> None:
    counter = itertools.count()
    assert eventually(lambda: next(counter), lambda n: n >= 3, interval=0) == 3
    assert eventually(iter(["a", "b", "ready"]).__next__, "ready", interval=0) == "ready"


def test_a_missed_deadline_names_what_was_awaited_and_the_last_value() -> None:
    with pytest.raises(AssertionError) as failure:
        eventually(lambda: "RUNNING", "SUCCEEDED", timeout=0.05, interval=0.01, what="job a's status")
    assert str(failure.value) == (
        "job a's status (wanted 'SUCCEEDED'): not reached within 0.05 s; last seen: 'RUNNING'"
    )
    with pytest.raises(AssertionError, match=r"lambda: \[\].*last seen: \[\]"):
        eventually(lambda: [], timeout=0.01, interval=0.01)  # unnamed: the probe's own source says what


def test_ignored_errors_count_as_not_yet_and_others_propagate() -> None:
    attempts = iter([ConnectionError("refused"), ConnectionError("refused"), "up"])

    def probe() -> str:
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    assert eventually(probe, ignoring=(ConnectionError,), interval=0) == "up"
    with pytest.raises(AssertionError, match="last seen: ConnectionError"):
        eventually(
            lambda: (_ for _ in ()).throw(ConnectionError("refused")),
            timeout=0.01,
            interval=0.01,
            ignoring=(ConnectionError,),
        )
    with pytest.raises(KeyError):
        eventually(lambda: {}["missing"], ignoring=(ConnectionError,))
