"""Tests for sudoless.flows.schedule: Quartz cron expressions to fire times, with time zones."""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sudoless.errors import InputError
from sudoless.flows.schedule import CronExpression, next_fire_time

LA = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def isos(times: list[datetime]) -> list[str]:
    return [t.isoformat() for t in times]


# -- fire times in UTC -------------------------------------------------------------------------------------

EXAMPLES = [
    # hourly
    (
        "0 0 * ? * *",
        utc(2026, 3, 1),
        ["2026-03-01T01:00:00+00:00", "2026-03-01T02:00:00+00:00", "2026-03-01T03:00:00+00:00"],
    ),
    ("0 0 * ? * *", utc(2026, 12, 31, 23, 59, 59, 999999), ["2027-01-01T00:00:00+00:00", "2027-01-01T01:00:00+00:00"]),
    # daily 05:30; "strictly after": the fire time itself is excluded, a microsecond before is not
    ("0 30 5 ? * *", utc(2026, 3, 1, 5, 30), ["2026-03-02T05:30:00+00:00", "2026-03-03T05:30:00+00:00"]),
    ("0 30 5 ? * *", utc(2026, 3, 1, 5, 29, 59, 999999), ["2026-03-01T05:30:00+00:00", "2026-03-02T05:30:00+00:00"]),
    # weekdays at 02:00, from Friday 2026-03-06 02:00
    (
        "0 0 2 ? * MON-FRI",
        utc(2026, 3, 6, 2),
        [
            "2026-03-09T02:00:00+00:00",
            "2026-03-10T02:00:00+00:00",
            "2026-03-11T02:00:00+00:00",
            "2026-03-12T02:00:00+00:00",
            "2026-03-13T02:00:00+00:00",
            "2026-03-16T02:00:00+00:00",
        ],
    ),
    # minutes 23 and 53 of hours 5, 7, 8, 9, 10 on the third Friday (2026-03-20, then 2026-04-17)
    (
        "0 23/30 5,7-10 ? * 6#3",
        utc(2026, 3, 1),
        [
            "2026-03-20T05:23:00+00:00",
            "2026-03-20T05:53:00+00:00",
            "2026-03-20T07:23:00+00:00",
            "2026-03-20T07:53:00+00:00",
            "2026-03-20T08:23:00+00:00",
            "2026-03-20T08:53:00+00:00",
            "2026-03-20T09:23:00+00:00",
            "2026-03-20T09:53:00+00:00",
            "2026-03-20T10:23:00+00:00",
            "2026-03-20T10:53:00+00:00",
            "2026-04-17T05:23:00+00:00",
        ],
    ),
    # last day of the month, leap and common February
    (
        "0 0 12 L * ?",
        utc(2026, 1, 31, 12),
        ["2026-02-28T12:00:00+00:00", "2026-03-31T12:00:00+00:00", "2026-04-30T12:00:00+00:00"],
    ),
    ("0 0 12 L * ?", utc(2028, 2, 1), ["2028-02-29T12:00:00+00:00", "2028-03-31T12:00:00+00:00"]),
    # last weekday: Jan 31 2026 is a Saturday, Feb 28 a Saturday, May 31 a Sunday, Oct 31 a Saturday
    (
        "0 0 12 LW * ?",
        utc(2026, 1, 1),
        [
            "2026-01-30T12:00:00+00:00",
            "2026-02-27T12:00:00+00:00",
            "2026-03-31T12:00:00+00:00",
            "2026-04-30T12:00:00+00:00",
            "2026-05-29T12:00:00+00:00",
        ],
    ),
    ("0 0 12 LW * ?", utc(2026, 10, 1), ["2026-10-30T12:00:00+00:00"]),
    # nearest weekday to the 15th: 2026-08-15 is a Saturday (-> Fri 14th), 2026-11-15 a Sunday (-> Mon 16th)
    ("0 0 12 15W * ?", utc(2026, 8, 1), ["2026-08-14T12:00:00+00:00", "2026-09-15T12:00:00+00:00"]),
    ("0 0 12 15W * ?", utc(2026, 11, 1), ["2026-11-16T12:00:00+00:00", "2026-12-15T12:00:00+00:00"]),
    ("0 0 12 15W * ?", utc(2027, 5, 1), ["2027-05-14T12:00:00+00:00", "2027-06-15T12:00:00+00:00"]),
    # W does not cross the month: Sat Aug 1 2026 -> Mon 3rd; Sun Feb 1 2026 -> Mon 2nd
    ("0 0 12 1W * ?", utc(2026, 7, 15), ["2026-08-03T12:00:00+00:00", "2026-09-01T12:00:00+00:00"]),
    ("0 0 12 1W * ?", utc(2026, 1, 15), ["2026-02-02T12:00:00+00:00"]),
    # Sat Jan 31 2026 -> Fri 30th; Sun May 31 2026 (last day) -> Fri 29th; months without a 31st are skipped
    (
        "0 0 12 31W * ?",
        utc(2026, 1, 1),
        [
            "2026-01-30T12:00:00+00:00",
            "2026-03-31T12:00:00+00:00",
            "2026-05-29T12:00:00+00:00",
            "2026-07-31T12:00:00+00:00",
        ],
    ),
    # L-3 is the last day minus 3 (what Quartz computes): Jan 28, Feb 25, Mar 28
    (
        "0 0 12 L-3 * ?",
        utc(2026, 1, 1),
        ["2026-01-28T12:00:00+00:00", "2026-02-25T12:00:00+00:00", "2026-03-28T12:00:00+00:00"],
    ),
    # L-2W: Feb 26 2026 (Thu); Mar 29 (Sun) -> Mon 30; May 29 (Fri); Oct 29 (Thu)
    (
        "0 0 12 L-2W * ?",
        utc(2026, 2, 1),
        [
            "2026-02-26T12:00:00+00:00",
            "2026-03-30T12:00:00+00:00",
            "2026-04-28T12:00:00+00:00",
            "2026-05-29T12:00:00+00:00",
        ],
    ),
    # L-30 only exists in 31-day months
    ("0 0 0 L-30 * ?", utc(2026, 1, 2), ["2026-03-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00"]),
    # last Friday of the month
    (
        "0 15 10 ? * 6L",
        utc(2026, 1, 1),
        [
            "2026-01-30T10:15:00+00:00",
            "2026-02-27T10:15:00+00:00",
            "2026-03-27T10:15:00+00:00",
            "2026-04-24T10:15:00+00:00",
            "2026-05-29T10:15:00+00:00",
        ],
    ),
    ("0 15 10 ? * friL", utc(2026, 1, 1), ["2026-01-30T10:15:00+00:00"]),
    # L alone in day-of-week is 7 = Saturday
    ("0 0 9 ? * L", utc(2026, 3, 1), ["2026-03-07T09:00:00+00:00", "2026-03-14T09:00:00+00:00"]),
    # fifth Friday: only months that have one (2026: Jan, May, Jul, Oct)
    (
        "0 0 0 ? * FRI#5",
        utc(2026, 1, 1),
        [
            "2026-01-30T00:00:00+00:00",
            "2026-05-29T00:00:00+00:00",
            "2026-07-31T00:00:00+00:00",
            "2026-10-30T00:00:00+00:00",
        ],
    ),
    # first Monday
    (
        "0 0 8 ? * 2#1",
        utc(2026, 1, 1),
        ["2026-01-05T08:00:00+00:00", "2026-02-02T08:00:00+00:00", "2026-03-02T08:00:00+00:00"],
    ),
    # leap day: every 4 years, none after 2096 (2100 is outside the year range and not a leap year)
    ("0 0 0 29 2 ?", utc(2024, 2, 29), ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]),
    ("0 0 0 29 2 ?", utc(2090, 1, 1), ["2092-02-29T00:00:00+00:00", "2096-02-29T00:00:00+00:00"]),
    # February 30 never happens
    ("0 0 0 30 2 ?", utc(2026, 1, 1), []),
    # wrap-around ranges: hours 22-2, FRI-MON, NOV-FEB, minutes 50-10/15 = 50, 5
    (
        "0 0 22-2 ? * *",
        utc(2026, 3, 1, 3),
        [
            "2026-03-01T22:00:00+00:00",
            "2026-03-01T23:00:00+00:00",
            "2026-03-02T00:00:00+00:00",
            "2026-03-02T01:00:00+00:00",
            "2026-03-02T02:00:00+00:00",
            "2026-03-02T22:00:00+00:00",
        ],
    ),
    (
        "0 0 12 ? * FRI-MON",
        utc(2026, 3, 3),
        [
            "2026-03-06T12:00:00+00:00",
            "2026-03-07T12:00:00+00:00",
            "2026-03-08T12:00:00+00:00",
            "2026-03-09T12:00:00+00:00",
            "2026-03-13T12:00:00+00:00",
        ],
    ),
    (
        "0 0 0 1 NOV-FEB ?",
        utc(2026, 3, 1),
        [
            "2026-11-01T00:00:00+00:00",
            "2026-12-01T00:00:00+00:00",
            "2027-01-01T00:00:00+00:00",
            "2027-02-01T00:00:00+00:00",
            "2027-11-01T00:00:00+00:00",
        ],
    ),
    (
        "0 50-10/15 3 ? * *",
        utc(2026, 3, 1),
        ["2026-03-01T03:05:00+00:00", "2026-03-01T03:50:00+00:00", "2026-03-02T03:05:00+00:00"],
    ),
    # increments and seconds
    (
        "*/20 * * ? * *",
        utc(2026, 3, 1, 0, 0, 10),
        ["2026-03-01T00:00:20+00:00", "2026-03-01T00:00:40+00:00", "2026-03-01T00:01:00+00:00"],
    ),
    (
        "15 5-30/10 0 ? * *",
        utc(2026, 3, 1),
        [
            "2026-03-01T00:05:15+00:00",
            "2026-03-01T00:15:15+00:00",
            "2026-03-01T00:25:15+00:00",
            "2026-03-02T00:05:15+00:00",
        ],
    ),
    (
        "0 0 0 */10 * ?",
        utc(2026, 2, 15),
        [
            "2026-02-21T00:00:00+00:00",
            "2026-03-01T00:00:00+00:00",
            "2026-03-11T00:00:00+00:00",
            "2026-03-21T00:00:00+00:00",
            "2026-03-31T00:00:00+00:00",
            "2026-04-01T00:00:00+00:00",
        ],
    ),
    # names are case-insensitive; lists mix names and numbers
    (
        "0 0 12 ? jan,Jul,10 mon",
        utc(2026, 1, 1),
        [
            "2026-01-05T12:00:00+00:00",
            "2026-01-12T12:00:00+00:00",
            "2026-01-19T12:00:00+00:00",
            "2026-01-26T12:00:00+00:00",
            "2026-07-06T12:00:00+00:00",
        ],
    ),
    # year field: list, range with step, and the end of the supported range
    ("0 0 0 1 1 ? 2027,2029", utc(2026, 6, 1), ["2027-01-01T00:00:00+00:00", "2029-01-01T00:00:00+00:00"]),
    (
        "0 0 0 1 1 ? 2030-2040/5",
        utc(2026, 6, 1),
        ["2030-01-01T00:00:00+00:00", "2035-01-01T00:00:00+00:00", "2040-01-01T00:00:00+00:00"],
    ),
    ("59 59 23 31 12 ?", utc(2098, 6, 1), ["2098-12-31T23:59:59+00:00", "2099-12-31T23:59:59+00:00"]),
    # before 1970 the first fire time is in 1970
    ("0 0 0 1 1 ?", utc(1960, 5, 5), ["1970-01-01T00:00:00+00:00", "1971-01-01T00:00:00+00:00"]),
]


@pytest.mark.parametrize(("expr", "after", "expected"), EXAMPLES)
def test_fire_times(expr: str, after: datetime, expected: list[str]) -> None:
    times = CronExpression.parse(expr).fire_times(after, max(len(expected), 1))
    assert isos(times) == expected
    assert all(t.tzinfo == ZoneInfo("UTC") for t in times)


@pytest.mark.parametrize(("expr", "after", "expected"), EXAMPLES)
def test_next_fire_is_first_fire_time(expr: str, after: datetime, expected: list[str]) -> None:
    fire = CronExpression.parse(expr).next_fire(after)
    assert (fire.isoformat() if fire else None) == (expected[0] if expected else None)
    assert next_fire_time(expr, after) == fire


def test_year_in_the_past_has_no_fire_time() -> None:
    expr = CronExpression.parse("0 0 0 1 1 ? 2019")
    assert expr.next_fire(utc(2020, 1, 1)) is None
    assert expr.fire_times(utc(2020, 1, 1), 5) == []
    assert expr.has_future_fire(utc(2020, 1, 1)) is False
    assert expr.has_future_fire() is False
    assert expr.has_future_fire(utc(2018, 6, 1)) is True
    assert isos([expr.next_fire(utc(2018, 6, 1))]) == ["2019-01-01T00:00:00+00:00"]
    assert expr.next_fire(utc(2019, 1, 1)) is None
    assert next_fire_time("0 0 0 1 1 ? 2019", utc(2020, 1, 1)) is None


def test_no_fire_time_after_2099() -> None:
    expr = CronExpression.parse("0 0 * ? * *")
    assert expr.next_fire(utc(2099, 12, 31, 23)) is None
    assert expr.next_fire(utc(2150, 1, 1)) is None
    assert expr.has_future_fire(utc(2099, 12, 31, 22, 59, 59)) is True
    assert CronExpression.parse("0 0 * ? * *").has_future_fire() is True


def test_fire_times_count_edge_cases() -> None:
    expr = CronExpression.parse("0 0 * ? * *")
    assert expr.fire_times(utc(2026, 1, 1), 0) == []
    with pytest.raises(ValueError, match="count"):
        expr.fire_times(utc(2026, 1, 1), -1)


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CronExpression.parse("0 0 * ? * *").next_fire(datetime(2026, 1, 1))


def test_every_minute_is_exact() -> None:
    expr = CronExpression.parse("0 * * ? * *")
    times = expr.fire_times(utc(2026, 2, 28, 23, 30), 1000)
    assert times == [utc(2026, 2, 28, 23, 30) + timedelta(minutes=k) for k in range(1, 1001)]


def test_every_second_crosses_the_year() -> None:
    expr = CronExpression.parse("* * * ? * *")
    times = expr.fire_times(utc(2026, 12, 31, 23, 59), 1000)
    assert times[0] == utc(2026, 12, 31, 23, 59, 1)
    assert times[-1] == utc(2026, 12, 31, 23, 59) + timedelta(seconds=1000)


# -- time zones and daylight saving time ------------------------------------------------------------------

DST = [
    # Los Angeles springs forward on 2026-03-08: 02:00 PST becomes 03:00 PDT
    (
        "0 0 * ? * *",
        LA,
        datetime(2026, 3, 8, 0, 30, tzinfo=LA),
        ["2026-03-08T01:00:00-08:00", "2026-03-08T03:00:00-07:00", "2026-03-08T04:00:00-07:00"],
    ),
    (
        "0 30 2 ? * *",
        LA,
        datetime(2026, 3, 7, 12, tzinfo=LA),
        ["2026-03-08T03:00:00-07:00", "2026-03-09T02:30:00-07:00"],
    ),
    (
        "0 30 2 ? * *",
        LA,
        datetime(2026, 3, 6, 12, tzinfo=LA),
        ["2026-03-07T02:30:00-08:00", "2026-03-08T03:00:00-07:00", "2026-03-09T02:30:00-07:00"],
    ),
    (
        "0 */20 2 ? * *",
        LA,
        datetime(2026, 3, 8, tzinfo=LA),
        ["2026-03-08T03:00:00-07:00", "2026-03-09T02:00:00-07:00", "2026-03-09T02:20:00-07:00"],
    ),
    (
        "0 * * ? * *",
        LA,
        datetime(2026, 3, 8, 1, 58, tzinfo=LA),
        ["2026-03-08T01:59:00-08:00", "2026-03-08T03:00:00-07:00", "2026-03-08T03:01:00-07:00"],
    ),
    (
        "* * * ? * *",
        LA,
        datetime(2026, 3, 8, 1, 59, 58, tzinfo=LA),
        ["2026-03-08T01:59:59-08:00", "2026-03-08T03:00:00-07:00", "2026-03-08T03:00:01-07:00"],
    ),
    (
        "0 0 3 ? * *",
        LA,
        datetime(2026, 3, 7, 12, tzinfo=LA),
        ["2026-03-08T03:00:00-07:00", "2026-03-09T03:00:00-07:00"],
    ),
    # Los Angeles falls back on 2026-11-01: 02:00 PDT becomes 01:00 PST; 01:xx fires once, as PDT
    (
        "0 0 * ? * *",
        LA,
        datetime(2026, 11, 1, 0, 30, tzinfo=LA),
        ["2026-11-01T01:00:00-07:00", "2026-11-01T02:00:00-08:00", "2026-11-01T03:00:00-08:00"],
    ),
    (
        "0 30 1 ? * *",
        LA,
        datetime(2026, 10, 31, 12, tzinfo=LA),
        ["2026-11-01T01:30:00-07:00", "2026-11-02T01:30:00-08:00"],
    ),
    # ``after`` in the second 01:xx (PST, fold=1): 01:30 already fired at its PDT occurrence
    ("0 30 1 ? * *", LA, datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=LA), ["2026-11-02T01:30:00-08:00"]),
    (
        "0 0 * ? * *",
        LA,
        datetime(2026, 11, 1, 1, 0, fold=1, tzinfo=LA),
        ["2026-11-01T02:00:00-08:00", "2026-11-01T03:00:00-08:00"],
    ),
    (
        "0 * * ? * *",
        LA,
        datetime(2026, 11, 1, 1, 58, tzinfo=LA),
        ["2026-11-01T01:59:00-07:00", "2026-11-01T02:00:00-08:00", "2026-11-01T02:01:00-08:00"],
    ),
    (
        "* * * ? * *",
        LA,
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=LA),
        ["2026-11-01T02:00:00-08:00", "2026-11-01T02:00:01-08:00"],
    ),
    (
        "0 30 2 ? * *",
        LA,
        datetime(2026, 10, 31, 12, tzinfo=LA),
        ["2026-11-01T02:30:00-08:00", "2026-11-02T02:30:00-08:00"],
    ),
    # Berlin springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST), falls back on 2026-10-25
    # (03:00 CEST -> 02:00 CET)
    (
        "0 0 * ? * *",
        BERLIN,
        datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN),
        ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"],
    ),
    (
        "0 30 2 ? * *",
        BERLIN,
        datetime(2026, 3, 28, 12, tzinfo=BERLIN),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    (
        "0 0 * ? * *",
        BERLIN,
        datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN),
        ["2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"],
    ),
    (
        "0 30 2 ? * *",
        BERLIN,
        datetime(2026, 10, 24, 12, tzinfo=BERLIN),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
    ),
    (
        "0 30 2 ? * SUN",
        BERLIN,
        datetime(2026, 10, 18, 12, tzinfo=BERLIN),
        ["2026-10-25T02:30:00+02:00", "2026-11-01T02:30:00+01:00"],
    ),
    # ``after`` in another zone than the expression's
    ("0 0 9 ? * *", LA, utc(2026, 7, 1), ["2026-07-01T09:00:00-07:00", "2026-07-02T09:00:00-07:00"]),
    ("0 0 9 ? * *", BERLIN, datetime(2026, 7, 1, 9, tzinfo=LA), ["2026-07-02T09:00:00+02:00"]),
]


@pytest.mark.parametrize(("expr", "zone", "after", "expected"), DST)
def test_time_zones(expr: str, zone: ZoneInfo, after: datetime, expected: list[str]) -> None:
    times = CronExpression.parse(expr, zone.key).fire_times(after, len(expected))
    assert isos(times) == expected
    assert all(t.tzinfo is zone for t in times)
    # compare instants: aware datetimes with the same tzinfo compare by wall time, ignoring fold
    instants = [t.astimezone(UTC) for t in [after, *times]]
    assert all(a < b for a, b in zip(instants, instants[1:], strict=False))


def test_zone_accepts_zoneinfo_and_name_alike() -> None:
    by_name = CronExpression.parse("0 0 9 ? * *", "America/Los_Angeles")
    by_zone = CronExpression.parse("0 0 9 ? * *", LA)
    assert by_name == by_zone
    assert by_name.tz is LA
    fire = next_fire_time("0 0 9 ? * *", utc(2026, 1, 1), "America/Los_Angeles")
    assert fire is not None and fire.isoformat() == "2026-01-01T09:00:00-08:00"
    assert fire == by_zone.next_fire(utc(2026, 1, 1))


def test_text_equality_and_defaults() -> None:
    expr = CronExpression.parse("  0 0\t12 ? *  MON-FRI ")
    assert expr.text == "0 0 12 ? * MON-FRI"
    assert expr.tz == ZoneInfo("UTC")
    assert expr == CronExpression("0 0 12 ? * MON-FRI")
    assert hash(expr) == hash(CronExpression.parse("0 0 12 ? * MON-FRI", "UTC"))
    assert expr != CronExpression.parse("0 0 12 ? * MON-FRI", "Europe/Berlin")
    with pytest.raises(AttributeError):
        expr.text = "0 0 * ? * *"  # type: ignore[misc]


# -- errors -----------------------------------------------------------------------------------------------

FIELDS_HINT = "expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year])"

ERRORS = [
    # wrong field count
    ("0 0 * ? *", f"{FIELDS_HINT}, got 5"),
    ("0 0 * ? * * 2026 x", f"{FIELDS_HINT}, got 8"),
    ("", f"{FIELDS_HINT}, got 0"),
    # out of range
    ("0 0 25 ? * *", "hours value 25 out of range 0-23"),
    ("60 0 0 ? * *", "seconds value 60 out of range 0-59"),
    ("0 61 0 ? * *", "minutes value 61 out of range 0-59"),
    ("0 0 0 0 * ?", "day-of-month value 0 out of range 1-31"),
    ("0 0 0 32 * ?", "day-of-month value 32 out of range 1-31"),
    ("0 0 0 1 13 ?", "month value 13 out of range 1-12"),
    ("0 0 0 ? * 0", "day-of-week value 0 out of range 1-7"),
    ("0 0 0 ? * 1-8", "day-of-week value 8 out of range 1-7"),
    ("0 0 0 1 1 ? 1969", "year value 1969 out of range 1970-2099"),
    ("0 0 0 1 1 ? 2100", "year value 2100 out of range 1970-2099"),
    # both or neither day field
    (
        "0 0 12 1 * MON",
        "day-of-month and day-of-week are both specified; one of them must be '?' (Quartz does not support both)",
    ),
    (
        "0 0 12 * * *",
        "day-of-month and day-of-week are both specified; one of them must be '?' (Quartz does not support both)",
    ),
    ("0 0 12 ? * ?", "day-of-month and day-of-week are both '?'; exactly one of them must be '?'"),
    # bad names
    ("0 0 12 ? FOO *", "month name 'FOO' is not one of JAN-DEC"),
    ("0 0 12 ? * FUN", "day-of-week name 'FUN' is not one of SUN-SAT"),
    ("0 0 12 ? MON *", "month name 'MON' is not one of JAN-DEC"),
    ("0 0 12 ? * JAN", "day-of-week name 'JAN' is not one of SUN-SAT"),
    ("0 0 MON ? * *", "hours value 'MON' is not a number"),
    # bad step
    ("0 0/0 * ? * *", "minutes step 0 out of range 1-59"),
    ("0 0/60 * ? * *", "minutes step 60 out of range 1-59"),
    ("0 0 */24 ? * *", "hours step 24 out of range 1-23"),
    ("0 */x * ? * *", "minutes step 'X' is not a number"),
    ("0 5/ * ? * *", "minutes step is missing after '/'"),
    ("0 1/2/3 * ? * *", "minutes step '2/3' is not a number"),
    # '#' misuse
    ("0 0 12 ? * 6#6", "day-of-week occurrence #6 out of range 1-5"),
    ("0 0 12 ? * 6#0", "day-of-week occurrence #0 out of range 1-5"),
    ("0 0 12 ? * 8#2", "day-of-week value 8 out of range 1-7"),
    ("0 0 12 ? * 6#", "day-of-week occurrence is missing after '#' in '6#'"),
    ("0 0 12 ? * 6#3,2#1", "day-of-week '#' must join one day and an occurrence, as in 6#3 (got '6#3,2#1')"),
    ("0 0 12 6#3 * ?", "day-of-month does not allow '#' (only day-of-week does)"),
    # 'W' misuse
    ("0 0 12 1-5W * ?", "day-of-month 'W' must follow a single day, as in 15W or LW (got '1-5W')"),
    ("0 0 12 W * ?", "day-of-month 'W' must follow a single day, as in 15W or LW (got 'W')"),
    ("0 0 12 32W * ?", "day-of-month value 32 in '32W' out of range 1-31"),
    ("0 0 12 0W * ?", "day-of-month value 0 in '0W' out of range 1-31"),
    ("0 0 12 ? * 5W", "day-of-week does not allow 'W' (only day-of-month does; got '5W')"),
    ("0 0 12W ? * *", "hours does not allow 'W' (only day-of-month does)"),
    # 'L' misuse
    ("0 0 12 L-31 * ?", "day-of-month offset L-31 out of range L-0 to L-30"),
    ("0 0 12 L- * ?", "day-of-month offset is missing after 'L-'"),
    ("0 0 12 1,L * ?", "day-of-month 'L' must be the whole field: L, L-3, LW or L-3W (got '1,L')"),
    ("0 0 12 ? * 1-5L", "day-of-week 'L' must be alone or follow one day, as in L or 6L (got '1-5L')"),
    ("0 0 L ? * *", "hours does not allow 'L' (only day-of-month and day-of-week do)"),
    # '?' misuse
    ("0 ? * ? * *", "minutes does not allow '?' (only day-of-month and day-of-week do)"),
    ("0 0 12 1,? * *", "day-of-month '?' must be the whole field (got '1,?')"),
    # garbage
    ("0 0 12 ? * $", "day-of-week has invalid value '$'"),
    ("every day at noon", f"{FIELDS_HINT}, got 4"),
    ("a b c d e f", "seconds value 'A' is not a number"),
    ("0 0 1,,2 ? * *", "hours has an empty item in list '1,,2'"),
    ("0 0 1- ? * *", "hours value is missing in '1-'"),
    ("0 0 -1 ? * *", "hours has invalid value '-1'"),
    ("0 0 1-2-3 ? * *", "hours has invalid value '2-3'"),
    ("0 0 \u0661 ? * *", "hours has invalid value '\u0661'"),
    ("0 0 0 1 1 ? 2030-2020", "year range 2030-2020 goes backwards"),
]


@pytest.mark.parametrize(("expr", "problem"), ERRORS)
def test_invalid_expressions(expr: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        CronExpression.parse(expr)
    message = str(caught.value)
    shown = " ".join(expr.split())
    assert message == f"cron expression '{shown}': {problem}"
    assert "\n" not in message


def test_invalid_expression_from_convenience_function() -> None:
    with pytest.raises(InputError, match=r"^cron expression '0 0 25 \? \* \*': hours value 25 out of range"):
        next_fire_time("0 0 25 ? * *", utc(2026, 1, 1))


def test_unknown_time_zone() -> None:
    with pytest.raises(InputError) as caught:
        CronExpression.parse("0 0 * ? * *", "Mars/Olympus_Mons")
    assert str(caught.value) == "cron expression '0 0 * ? * *': unknown time zone 'Mars/Olympus_Mons'"


def test_non_string_expression() -> None:
    with pytest.raises(InputError, match="must be a string"):
        CronExpression.parse(None)  # type: ignore[arg-type]


def test_multiline_text_gives_one_line_message() -> None:
    with pytest.raises(InputError) as caught:
        CronExpression.parse("0 0 25\n? * *")
    assert str(caught.value) == "cron expression '0 0 25 ? * *': hours value 25 out of range 0-23"


# -- property test against an independent brute-force matcher --------------------------------------------

_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}  # "Jan" -> 1
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def _simple_matcher(text: str, lo: int, hi: int, names: dict[str, int]) -> Callable[[int], bool]:
    """Membership test for a field of *, values, ranges (possibly wrapping), increments and lists."""
    size = hi - lo + 1

    def value(token: str) -> int:
        return names[token.upper()] if token.isalpha() else int(token)

    items = []
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, b = base.split("-")
            first, last = value(a), value(b)
        else:
            first = value(base)
            last = hi if slash else first
        items.append((first, last, int(step) if slash else 1))

    def matches(v: int) -> bool:
        return any(
            (v - first) % size <= (last - first) % size and (v - first) % size % step == 0
            for first, last, step in items
        )

    return matches


def _weekday_nearest(day: date, target: int) -> bool:
    """Whether ``day`` is the Mon-Fri day of its month closest to day ``target`` of that month."""
    last = calendar.monthrange(day.year, day.month)[1]
    if not 1 <= target <= last:
        return False
    weekdays = [d for d in range(1, last + 1) if date(day.year, day.month, d).isoweekday() <= 5]
    return day.day == min(weekdays, key=lambda d: abs(d - target))


class BruteForce:
    """Decides whether a wall-clock time matches a cron expression, one field at a time."""

    def __init__(self, expr: str) -> None:
        fields = expr.split()
        self.second = int(fields[0])
        self.minute = _simple_matcher(fields[1], 0, 59, {})
        self.hour = _simple_matcher(fields[2], 0, 23, {})
        self.dom_text, self.dow_text = fields[3].upper(), fields[5].upper()
        self.month = _simple_matcher(fields[4], 1, 12, {k.upper(): v for k, v in _MONTHS.items()})
        self.year = _simple_matcher(fields[6] if len(fields) == 7 else "*", 1970, 2099, {})
        plain_dom = not (self.dom_text.startswith("L") or self.dom_text.endswith("W") or self.dom_text == "?")
        plain_dow = not (self.dow_text.endswith("L") or "#" in self.dow_text or self.dow_text == "?")
        self.dom_plain = _simple_matcher(self.dom_text, 1, 31, {}) if plain_dom else None
        self.dow_plain = _simple_matcher(self.dow_text, 1, 7, _DAYS) if plain_dow else None
        self.minutes_of_day = [m for m in range(1440) if self.hour(m // 60) and self.minute(m % 60)]

    def day_matches(self, day: date) -> bool:
        if not (self.year(day.year) and self.month(day.month)):
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        dom, dow = self.dom_text, self.dow_text
        if dom != "?":
            if dom.startswith("L"):
                target = last - (int(dom[2:].rstrip("W")) if dom.startswith("L-") else 0)
                return _weekday_nearest(day, target) if dom.endswith("W") else day.day == target
            if dom.endswith("W"):
                return _weekday_nearest(day, int(dom[:-1]))
            assert self.dom_plain is not None
            return self.dom_plain(day.day)
        quartz = day.isoweekday() % 7 + 1  # Sunday = 1 ... Saturday = 7
        if dow == "L":
            return quartz == 7
        if dow.endswith("L"):
            return quartz == int(dow[:-1]) and day.day + 7 > last
        if "#" in dow:
            n, k = dow.split("#")
            return quartz == int(n) and (day.day - 1) // 7 + 1 == int(k)
        assert self.dow_plain is not None
        return self.dow_plain(quartz)

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second == self.second
            and self.minute(wall.minute)
            and self.hour(wall.hour)
            and self.day_matches(wall.date())
        )

    def walk(self, after: datetime, days: int, limit: int) -> list[datetime]:
        """Matching times after ``after`` (aware), checking every minute of a ``days``-day window.

        Each minute's time of day is tested once (``minutes_of_day``); each day's date fields once.
        """
        zone = after.tzinfo
        local = after.replace(tzinfo=None)
        found: list[datetime] = []
        for offset in range(days):
            day = local.date() + timedelta(days=offset)
            if not self.day_matches(day):
                continue
            midnight = datetime(day.year, day.month, day.day)
            for minute in self.minutes_of_day:
                wall = midnight + timedelta(minutes=minute, seconds=self.second)
                if wall > local:
                    found.append(wall.replace(tzinfo=zone))
                    if len(found) == limit:
                        return found
        return found


def _random_field(rng: random.Random, lo: int, hi: int, names: list[str] | None = None) -> str:
    def value(v: int) -> str:
        if names and rng.random() < 0.3:
            name = names[v - lo]
            return rng.choice([name, name.lower(), name.title()])
        return str(v)

    kind = rng.choice(["*", "*", "value", "range", "wrap", "step", "star-step", "range-step", "list"])
    if kind == "*":
        return "*"
    if kind == "value":
        return value(rng.randint(lo, hi))
    if kind in ("range", "range-step"):
        a = rng.randint(lo, hi - 1)
        b = rng.randint(a + 1, hi)
        step = f"/{rng.randint(1, max(1, (b - a) // 2 + 1))}" if kind == "range-step" else ""
        return f"{value(a)}-{value(b)}{step}"
    if kind == "wrap":
        b = rng.randint(lo, hi - 1)
        a = rng.randint(b + 1, hi)
        return f"{value(a)}-{value(b)}"
    if kind == "step":
        return f"{value(rng.randint(lo, hi))}/{rng.randint(1, (hi - lo) // 2 + 1)}"
    if kind == "star-step":
        return f"*/{rng.randint(1, (hi - lo) // 2 + 1)}"
    picked = rng.sample(range(lo, hi + 1), rng.randint(2, 4))
    return ",".join(value(v) for v in picked)


def _random_expression(rng: random.Random) -> str:
    second = str(rng.choice([0, 0, rng.randint(0, 59)]))
    minute = _random_field(rng, 0, 59)
    hour = _random_field(rng, 0, 23)
    month = _random_field(rng, 1, 12, [m.upper() for m in calendar.month_abbr[1:]])
    if rng.random() < 0.5:
        dom = rng.choice(
            [
                _random_field(rng, 1, 31),
                _random_field(rng, 1, 31),
                "L",
                f"L-{rng.randint(0, 30)}",
                "LW",
                f"L-{rng.randint(0, 10)}W",
                f"{rng.randint(1, 31)}W",
            ]
        )
        dow = "?"
    else:
        dom = "?"
        day = rng.randint(1, 7)
        dow = rng.choice(
            [
                _random_field(rng, 1, 7, list(_DAYS)),
                _random_field(rng, 1, 7, list(_DAYS)),
                "L",
                f"{day}L",
                f"{day}#{rng.randint(1, 5)}",
            ]
        )
    fields = [second, minute, hour, dom, month, dow]
    roll = rng.random()
    if roll < 0.1:
        fields.append("*")
    elif roll < 0.25:
        first = rng.randint(2024, 2030)
        fields.append(rng.choice([f"{first}-{first + rng.randint(0, 3)}", f"{first},{first + 2}"]))
    return " ".join(fields)


@pytest.mark.parametrize("zone_name", ["UTC", "Asia/Kolkata"])
def test_matches_brute_force(zone_name: str) -> None:
    """200 random expressions: fire times increase and equal what a minute-by-minute walk finds."""
    rng = random.Random(20260308)
    zone = ZoneInfo(zone_name)  # neither zone has DST in the years walked
    window_days = 800
    checked_complete = 0
    for _ in range(200):
        expr = _random_expression(rng)
        after = datetime(2024, 1, 1, tzinfo=zone) + timedelta(
            seconds=rng.randint(0, 6 * 365 * 86400), microseconds=rng.randint(0, 999999)
        )
        times = CronExpression.parse(expr, zone_name).fire_times(after, 20)
        brute = BruteForce(expr)
        assert all(a < b for a, b in zip([after, *times], times, strict=False)), expr
        assert all(t.tzinfo is zone and brute.matches(t.replace(tzinfo=None)) for t in times), expr
        expected = brute.walk(after, window_days, 20)
        if len(expected) == 20:
            checked_complete += 1
            assert times == expected, expr
        else:  # the window ran out first: what it holds must agree, later fire times lie beyond it
            assert times[: len(expected)] == expected, expr
            window_end = datetime.combine(after.date() + timedelta(days=window_days), datetime.min.time(), tzinfo=zone)
            assert all(t >= window_end for t in times[len(expected) :]), expr
    assert checked_complete > 100  # the window is large enough for most expressions
