"""Azkaban's deprecated period schedules (``scheduleFlow``) as cron schedules.

Azkaban 2 scheduled a flow at a first time and then every period (``30m``, ``1d``, ``1w``, ``1M``). sudoless
schedules only with Quartz cron, so a period schedule is converted: the first time fixes the phase and the
period the step, and the scheduler starts at the first time (``Scheduler.schedule(start_ms=...)``). That is
exact whenever the period's slots fall on a cron grid: seconds, minutes and hours that divide the next
unit, one day, one week, months that divide a year (on days 1-28, since Azkaban's month arithmetic clips
the 31st to the month's end), and years. Anything else (``7m``, ``5h``, ``2d``, ``3w``, the 31st of every
month) has no cron equivalent and is refused with a message saying so, rather than approximated.
Steps of hours are wall-clock steps in the schedule's zone, so across a DST change they differ from
Azkaban's fixed durations by the shift.

Parameters follow Azkaban's ScheduleServlet: ``scheduleTime`` = ``hh,mm,am|pm,ZONE`` and ``scheduleDate`` =
``MM/dd/yyyy`` (empty: today in the zone). Azkaban honours only ``UTC`` as zone and uses the server's
default otherwise; sudoless honours any IANA zone name and uses the default (UTC) for the rest (``PDT``).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sudoless.errors import InputError

__all__ = ["first_time", "parse_period", "period_cron"]

_PERIOD = re.compile(r"([0-9]{1,9})([yMwdhms])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_INT = re.compile(r"[+-]?[0-9]{1,9}")
_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def first_time(date_text: str | None, time_text: str, default_zone: str, now: datetime) -> datetime:
    """The first fire time of ``scheduleDate`` and ``scheduleTime``, in its zone (seconds 0).

    Raises InputError with Azkaban's ``Invalid date and/or time '<date> <time>`` for anything unreadable.
    """
    invalid = InputError(f"Invalid date and/or time '{date_text} {time_text}")
    parts = time_text.split(",")
    if len(parts) < 4 or not _INT.fullmatch(parts[0].strip()) or not _INT.fullmatch(parts[1].strip()):
        raise invalid
    hour, minute = int(parts[0]) % 12, int(parts[1])
    if parts[2].strip().lower() == "pm":
        hour += 12
    zone = _zone(parts[3].strip(), default_zone)
    try:
        if date_text is None or not date_text.strip():
            day = now.astimezone(zone)
            return day.replace(hour=hour, minute=minute, second=0, microsecond=0)
        match = _DATE.fullmatch(date_text.strip())
        if match is None:
            raise invalid
        month, day_of_month, year = (int(group) for group in match.groups())
        return datetime(year, month, day_of_month, hour, minute, tzinfo=zone)
    except ValueError:  # hour, minute, day or month out of range
        raise invalid from None


def _zone(name: str, default_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo(default_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default_zone)


def parse_period(text: str | None) -> tuple[int, str] | None:
    """``<n><unit>`` (units ``y M w d h m s``) as (n, unit); None for no period (``null``, ``…n``, empty)."""
    if text is None or not text.strip() or text.strip() == "null" or text.strip().endswith("n"):
        return None
    match = _PERIOD.fullmatch(text.strip())
    if match is None:
        unit = text.strip()[-1]
        if unit not in "yMwdhms":
            raise InputError(
                f"Invalid schedule period unit '{unit}' in '{text}': use y, M, w, d, h, m or s after a number, as in 1d"
            )
        raise InputError(f"Invalid schedule period '{text}': expected a positive number and a unit, as in 1d")
    count, unit = int(match.group(1)), match.group(2)
    if count <= 0:
        raise InputError(f"Invalid schedule period '{text}': the number must be positive")
    return count, unit


def period_cron(first: datetime, period: tuple[int, str] | None) -> str:
    """The Quartz cron expression whose fire times from ``first`` on are ``first + k * period``.

    ``first`` is in the schedule's zone; no period means once, at ``first`` (a cron with its year).
    Raises InputError when the period has no cron equivalent (see the module docstring).
    """
    s, m, h, day, month, year = first.second, first.minute, first.hour, first.day, first.month, first.year
    if period is None:
        return f"{s} {m} {h} {day} {month} ? {year}"
    count, unit = period
    text = f"{count}{unit}"
    if unit == "M":
        if 12 % count or day > 28:
            raise _no_cron(text, "months repeat on a cron grid only when they divide a year, on days 1-28")
        return f"{s} {m} {h} {day} {(month - 1) % count + 1}/{count} ?"
    if unit == "y":
        if month == 2 and day == 29:
            raise _no_cron(text, "a yearly schedule cannot start on 29 February")
        return f"{s} {m} {h} {day} {month} ? {year}/{count}" if count > 1 else f"{s} {m} {h} {day} {month} ?"
    seconds = count * _SECONDS[unit]
    if seconds < 60 and 60 % seconds == 0:
        return f"{s % seconds}/{seconds} * * * * ?"
    if seconds < 3600 and seconds % 60 == 0 and 3600 % seconds == 0:
        step = seconds // 60
        return f"{s} {m % step}/{step} * * * ?"
    if seconds < 86_400 and seconds % 3600 == 0 and 86_400 % seconds == 0:
        step = seconds // 3600
        return f"{s} {m} {h % step}/{step} * * ?"
    if seconds == 86_400:
        return f"{s} {m} {h} * * ?"
    if seconds == 604_800:
        return f"{s} {m} {h} ? * {_WEEKDAYS[first.weekday()]}"
    raise _no_cron(text, "cron steps must divide the next unit (60 s, 60 min, 24 h), or be 1 day or 1 week")


def _no_cron(period: str, why: str) -> InputError:
    return InputError(
        f"period {period} has no cron equivalent ({why}); use scheduleCronFlow with a Quartz cron expression instead"
    )
