"""Quartz cron expressions (as Azkaban's ``scheduleCronFlow`` uses them) turned into fire times.

An expression has 6 or 7 whitespace-separated fields::

    seconds minutes hours day-of-month month day-of-week [year]

with the ranges 0-59, 0-59, 0-23, 1-31, 1-12 (or ``JAN``-``DEC``), 1-7 (``1`` = ``SUN`` ... ``7`` =
``SAT``, Quartz numbering, not cron's 0-6) and 1970-2099. Names and the letters ``L`` and ``W`` are
case-insensitive. Every field takes ``*``, a value, a range ``a-b`` (a range may wrap around the end
of its field, e.g. hours ``22-2`` or ``FRI-MON``; year ranges may not), an increment ``a/n``, ``*/n`` or
``a-b/n``, and comma lists of these. Exactly one of day-of-month and day-of-week must be ``?``.
Day-of-month also takes, as the whole field, ``L`` (last day), ``L-n`` (``n`` days before the last day),
``LW`` / ``L-nW`` (the weekday nearest to that day) and ``nW`` (the weekday nearest to day ``n``).
Day-of-week also takes, as the whole field, ``L`` (= ``7`` = Saturday), ``nL`` (the last day ``n`` of the
month, ``6L`` = last Friday) and ``n#k`` (the ``k``-th day ``n``, ``6#3`` = third Friday).

Semantics where Quartz's own documentation is vague, follow what Quartz's ``CronExpression`` does:

* ``L-n`` is the last day minus ``n`` (``L-3`` in January is the 28th), ``n`` at most 30; when that is
  before the 1st the month has no fire time.
* ``nW`` and ``LW`` never leave the month: a Saturday moves back to Friday unless it is the 1st (then
  forward to Monday the 3rd), a Sunday moves forward to Monday unless it is the last day (then back to
  Friday). ``nW`` in a month shorter than ``n`` days does not fire that month (like a plain ``31``).
* ``n#k`` does not fire in a month that has no ``k``-th such day.
* Nothing fires after 2099-12-31 23:59:59 or before 1970.

Time zones: fire times are wall-clock times in the expression's zone (``tz``, default UTC) and are
returned as aware datetimes in that zone. Around daylight-saving changes:

* A wall time that does not exist (spring forward) fires at the first instant after the gap, i.e. at the
  transition itself: a daily ``0 30 2 ? * *`` in America/Los_Angeles fires at 03:00 PDT on 2026-03-08.
  Several wall times inside the same gap collapse into that one fire time, so an hourly expression
  fires at 01:00 PST, 03:00 PDT, 04:00 PDT.
* A wall time that exists twice (fall back) fires once, at its first occurrence (the daylight-time
  one). An hourly expression on 2026-11-01 in Los Angeles fires at 00:00 PDT, 01:00 PDT, 02:00 PST.

Fire times are found by advancing field by field (year, month, day, hour, minute, second), so even
per-second expressions cost a few steps per fire time.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sudoless.errors import InputError

__all__ = ["MAX_YEAR", "MIN_YEAR", "CronExpression", "next_fire_time"]

MIN_YEAR = 1970
MAX_YEAR = 2099

_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
_DAY_NAMES = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}

_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int
    max_step: int
    names: dict[str, int] | None = None
    wraps: bool = True


_SECONDS = _Field("seconds", 0, 59, 59)
_MINUTES = _Field("minutes", 0, 59, 59)
_HOURS = _Field("hours", 0, 23, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, 31)
_MONTH = _Field("month", 1, 12, 12, _MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, 7, _DAY_NAMES)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR, MAX_YEAR - MIN_YEAR, wraps=False)

_NUMBER = re.compile(r"[0-9]+")
_DOM_LAST = re.compile(r"L(?:-([0-9]*))?(W?)")
_DOM_NEAREST = re.compile(r"([0-9]+)W")
_DOW_LAST = re.compile(r"([0-9]+|[A-Z]+)L")
_DOW_NTH = re.compile(r"([0-9]+|[A-Z]+)#([0-9]*)")
_DOW_STRAY_W = re.compile(r"(?<![A-Z])W(?!ED)")


class _FieldError(Exception):
    """A problem in one field; :meth:`CronExpression.__post_init__` adds the expression to the message."""


@dataclass(frozen=True)
class _DaySpec:
    """How one of the two day fields selects days.

    ``kind`` is ``any`` (``?``), ``set`` (``values``), ``last`` (day-of-month ``L-offset``, ``weekday``
    for ``W``; day-of-week ``nL`` with the day in ``number``), ``nearest`` (``nW``, day in ``number``) or
    ``nth`` (``number#occurrence``).
    """

    kind: str
    values: frozenset[int] = frozenset()
    number: int = 0
    offset: int = 0
    weekday: bool = False
    occurrence: int = 0


_ANY_DAY = _DaySpec("any")


def _quartz_weekday(year: int, month: int, day: int) -> int:
    """Quartz's day-of-week number of a date: 1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    """The Monday-Friday day nearest to ``day`` without leaving the month (Quartz's ``W``)."""
    quartz = _quartz_weekday(year, month, day)
    if quartz == 7:  # Saturday
        return day + 2 if day == 1 else day - 1
    if quartz == 1:  # Sunday
        return day - 2 if day == last else day + 1
    return day


def _parse_number(spec: _Field, token: str) -> int:
    value = int(token)
    if not spec.lo <= value <= spec.hi:
        raise _FieldError(f"{spec.name} value {value} out of range {spec.lo}-{spec.hi}")
    return value


def _parse_value(spec: _Field, token: str, item: str) -> int:
    if not token:
        raise _FieldError(f"{spec.name} value is missing in {item!r}")
    if _NUMBER.fullmatch(token):
        return _parse_number(spec, token)
    if token.isascii() and token.isalpha():
        if spec.names is not None:
            if token in spec.names:
                return spec.names[token]
            first, last = next(iter(spec.names)), list(spec.names)[-1]
            raise _FieldError(f"{spec.name} name {token!r} is not one of {first}-{last}")
        if token == "L":
            raise _FieldError(f"{spec.name} does not allow 'L' (only day-of-month and day-of-week do)")
        raise _FieldError(f"{spec.name} value {token!r} is not a number")
    if "?" in token:
        raise _FieldError(f"{spec.name} does not allow '?' (only day-of-month and day-of-week do)")
    if "#" in token:
        raise _FieldError(f"{spec.name} does not allow '#' (only day-of-week does)")
    if re.fullmatch(r"[0-9]+W", token):
        raise _FieldError(f"{spec.name} does not allow 'W' (only day-of-month does)")
    raise _FieldError(f"{spec.name} has invalid value {token!r}")


def _parse_step(spec: _Field, token: str) -> int:
    if not token:
        raise _FieldError(f"{spec.name} step is missing after '/'")
    if not _NUMBER.fullmatch(token):
        raise _FieldError(f"{spec.name} step {token!r} is not a number")
    step = int(token)
    if not 1 <= step <= spec.max_step:
        raise _FieldError(f"{spec.name} step {step} out of range 1-{spec.max_step}")
    return step


def _expand(spec: _Field, start: int, end: int, step: int) -> range | list[int]:
    if start <= end:
        return range(start, end + 1, step)
    if not spec.wraps:
        raise _FieldError(f"{spec.name} range {start}-{end} goes backwards")
    size = spec.hi - spec.lo + 1
    length = (end - start) % size
    return [spec.lo + (start - spec.lo + k) % size for k in range(0, length + 1, step)]


def _parse_values(spec: _Field, text: str) -> tuple[int, ...]:
    """A field of ``*``, values, ranges, increments and lists, as the sorted tuple of its values."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _FieldError(f"{spec.name} has an empty item in list {text!r}")
        base, slash, step_text = item.partition("/")
        step = _parse_step(spec, step_text) if slash else 1
        if base == "*":
            start, end = spec.lo, spec.hi
        elif "-" in base[1:]:
            first, _, last = base.partition("-")
            start, end = _parse_value(spec, first, item), _parse_value(spec, last, item)
        else:
            start = _parse_value(spec, base, item)
            end = spec.hi if slash else start
        values.update(_expand(spec, start, end, step))
    return tuple(sorted(values))


def _parse_day_of_month(text: str) -> _DaySpec:
    if text == "?":
        return _ANY_DAY
    match = _DOM_LAST.fullmatch(text)
    if match:
        offset_text, weekday = match.groups()
        offset = 0
        if offset_text is not None:
            if not offset_text:
                raise _FieldError("day-of-month offset is missing after 'L-'")
            offset = int(offset_text)
            if offset > 30:
                raise _FieldError(f"day-of-month offset L-{offset} out of range L-0 to L-30")
        return _DaySpec("last", offset=offset, weekday=bool(weekday))
    match = _DOM_NEAREST.fullmatch(text)
    if match:
        number = int(match.group(1))
        if not 1 <= number <= 31:
            raise _FieldError(f"day-of-month value {number} in {text!r} out of range 1-31")
        return _DaySpec("nearest", number=number)
    if "W" in text:
        raise _FieldError(f"day-of-month 'W' must follow a single day, as in 15W or LW (got {text!r})")
    if "L" in text:
        raise _FieldError(f"day-of-month 'L' must be the whole field: L, L-3, LW or L-3W (got {text!r})")
    if "?" in text:
        raise _FieldError(f"day-of-month '?' must be the whole field (got {text!r})")
    return _DaySpec("set", values=frozenset(_parse_values(_DAY_OF_MONTH, text)))


def _parse_day_of_week(text: str) -> _DaySpec:
    if text == "?":
        return _ANY_DAY
    if text == "L":
        return _DaySpec("set", values=frozenset({7}))
    match = _DOW_LAST.fullmatch(text)
    if match:
        return _DaySpec("last", number=_parse_value(_DAY_OF_WEEK, match.group(1), text))
    match = _DOW_NTH.fullmatch(text)
    if match:
        number = _parse_value(_DAY_OF_WEEK, match.group(1), text)
        if not match.group(2):
            raise _FieldError(f"day-of-week occurrence is missing after '#' in {text!r}")
        occurrence = int(match.group(2))
        if not 1 <= occurrence <= 5:
            raise _FieldError(f"day-of-week occurrence #{occurrence} out of range 1-5")
        return _DaySpec("nth", number=number, occurrence=occurrence)
    if "#" in text:
        raise _FieldError(f"day-of-week '#' must join one day and an occurrence, as in 6#3 (got {text!r})")
    if "L" in text:
        raise _FieldError(f"day-of-week 'L' must be alone or follow one day, as in L or 6L (got {text!r})")
    if _DOW_STRAY_W.search(text):
        raise _FieldError(f"day-of-week does not allow 'W' (only day-of-month does; got {text!r})")
    if "?" in text:
        raise _FieldError(f"day-of-week '?' must be the whole field (got {text!r})")
    return _DaySpec("set", values=frozenset(_parse_values(_DAY_OF_WEEK, text)))


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if not isinstance(tz, str):
        raise TypeError(f"time zone must be a name or a ZoneInfo, not {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise _FieldError(f"unknown time zone {tz!r}") from error


@dataclass(frozen=True)
class CronExpression:
    """A parsed Quartz cron expression evaluated in one time zone.

    ``text`` is the expression with its whitespace collapsed to single spaces; ``tz`` is always a
    :class:`~zoneinfo.ZoneInfo` after construction (a zone name is accepted and converted).
    ``CronExpression(text, tz)`` and :meth:`parse` are equivalent; both raise
    :class:`~sudoless.errors.InputError` for an invalid expression or an unknown zone.
    """

    text: str
    tz: ZoneInfo = field(default=ZoneInfo("UTC"))
    _seconds: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _minutes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _hours: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _day_of_month: _DaySpec = field(init=False, repr=False, compare=False)
    _months: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _day_of_week: _DaySpec = field(init=False, repr=False, compare=False)
    _years: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _days_cache: dict[tuple[int, int], tuple[int, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    @classmethod
    def parse(cls, text: str, tz: str | ZoneInfo = "UTC") -> CronExpression:
        """Parse ``text``; fire times are wall-clock times in ``tz`` (a zone name or a ZoneInfo)."""
        return cls(text, tz)  # type: ignore[arg-type]  # a zone name too: __post_init__ makes it a ZoneInfo

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InputError(f"cron expression must be a string, not {type(self.text).__name__}")
        normalized = " ".join(self.text.split())
        object.__setattr__(self, "text", normalized)
        try:
            object.__setattr__(self, "tz", _zone(self.tz))
            self._parse_fields(normalized.upper().split())
        except _FieldError as error:
            raise InputError(f"cron expression {normalized!r}: {error}") from None

    def _parse_fields(self, fields: list[str]) -> None:
        if len(fields) not in (6, 7):
            raise _FieldError(
                "expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), "
                f"got {len(fields)}"
            )
        seconds, minutes, hours, day_of_month, month, day_of_week = fields[:6]
        values = {
            "_seconds": _parse_values(_SECONDS, seconds),
            "_minutes": _parse_values(_MINUTES, minutes),
            "_hours": _parse_values(_HOURS, hours),
            "_day_of_month": _parse_day_of_month(day_of_month),
            "_months": _parse_values(_MONTH, month),
            "_day_of_week": _parse_day_of_week(day_of_week),
            "_years": _parse_values(_YEAR, fields[6] if len(fields) == 7 else "*"),
        }
        dom_any = values["_day_of_month"] is _ANY_DAY
        dow_any = values["_day_of_week"] is _ANY_DAY
        if dom_any and dow_any:
            raise _FieldError("day-of-month and day-of-week are both '?'; exactly one of them must be '?'")
        if not dom_any and not dow_any:
            raise _FieldError(
                "day-of-month and day-of-week are both specified; one of them must be '?' "
                "(Quartz does not support both)"
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)

    # -- evaluation ----------------------------------------------------------------------------------------

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        """The days of ``year``-``month`` that match the day fields, ascending."""
        key = (year, month)
        cached = self._days_cache.get(key)
        if cached is not None:
            return cached
        last = calendar.monthrange(year, month)[1]
        dom, dow = self._day_of_month, self._day_of_week
        days: tuple[int, ...]
        if dom.kind == "set":
            days = tuple(day for day in sorted(dom.values) if day <= last)
        elif dom.kind == "last":
            target = last - dom.offset
            if target < 1:
                days = ()
            else:
                days = (_nearest_weekday(year, month, target, last) if dom.weekday else target,)
        elif dom.kind == "nearest":
            days = (_nearest_weekday(year, month, dom.number, last),) if dom.number <= last else ()
        else:  # day-of-month is '?': the day-of-week field decides
            first = _quartz_weekday(year, month, 1)
            if dow.kind == "set":
                days = tuple(day for day in range(1, last + 1) if (first + day - 2) % 7 + 1 in dow.values)
            else:
                first_match = 1 + (dow.number - first) % 7
                if dow.kind == "last":
                    days = (first_match + 7 * ((last - first_match) // 7),)
                else:  # nth
                    day = first_match + 7 * (dow.occurrence - 1)
                    days = (day,) if day <= last else ()
        self._days_cache[key] = days
        return days

    def _next_wall(self, start: datetime) -> datetime | None:
        """The first matching wall-clock time at or after naive ``start`` (whole seconds), or None."""
        year, month, day = start.year, start.month, start.day
        hour, minute, second = start.hour, start.minute, start.second
        years, months = self._years, self._months
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        while True:
            i = bisect_left(years, year)
            if i == len(years):
                return None
            if years[i] != year:
                year, month, day, hour, minute, second = years[i], 1, 1, 0, 0, 0
            i = bisect_left(months, month)
            if i == len(months):
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if months[i] != month:
                month, day, hour, minute, second = months[i], 1, 0, 0, 0
            days = self._days(year, month)
            i = bisect_left(days, day)
            if i == len(days):
                month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                continue
            if days[i] != day:
                day, hour, minute, second = days[i], 0, 0, 0
            i = bisect_left(hours, hour)
            if i == len(hours):
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if hours[i] != hour:
                hour, minute, second = hours[i], 0, 0
            i = bisect_left(minutes, minute)
            if i == len(minutes):
                hour, minute, second = hour + 1, 0, 0
                continue
            if minutes[i] != minute:
                minute, second = minutes[i], 0
            i = bisect_left(seconds, second)
            if i == len(seconds):
                minute, second = minute + 1, 0
                continue
            return datetime(year, month, day, hour, minute, seconds[i])

    def _instant(self, wall: datetime) -> datetime:
        """The aware datetime in ``tz`` at which wall-clock time ``wall`` fires.

        An ambiguous wall time gives its first occurrence; a wall time in a gap gives the first instant
        after the gap (the transition).
        """
        first = wall.replace(tzinfo=self.tz, fold=0)
        local = first.astimezone(UTC).astimezone(self.tz)
        if local.replace(tzinfo=None, fold=0) == wall:
            return local
        # ``wall`` falls in a gap: the two folds give instants on either side of the transition.
        other = int(wall.replace(tzinfo=self.tz, fold=1).timestamp())
        low, high = sorted((int(first.timestamp()), other))
        while low < high:  # smallest whole second whose local wall time is later than ``wall``
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self.tz).replace(tzinfo=None, fold=0) > wall:
                high = middle
            else:
                low = middle + 1
        return datetime.fromtimestamp(low, self.tz)

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after the aware datetime ``after``, in ``tz``; None if none is left.

        Raises :class:`ValueError` for a naive ``after`` (a programming error, not bad user input).
        """
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError(f"after must be a timezone-aware datetime, got {after!r}")
        # Aware datetimes sharing a tzinfo compare by wall time (fold ignored), so compare in UTC.
        after_utc = after.astimezone(UTC)
        wall = after.astimezone(self.tz).replace(tzinfo=None, fold=0, microsecond=0)
        if wall.year > MAX_YEAR:
            return None
        start = datetime(MIN_YEAR, 1, 1) if wall.year < MIN_YEAR else wall + _ONE_SECOND
        while True:
            candidate = self._next_wall(start)
            if candidate is None:
                return None
            fire = self._instant(candidate)
            # Wall times of a repeated hour already fired at their first occurrence; gap times collapse
            # onto the transition, which may equal ``after``. Both are skipped here.
            if fire.astimezone(UTC) > after_utc:
                return fire
            start = candidate + _ONE_SECOND

    def fire_times(self, after: datetime, count: int) -> list[datetime]:
        """Up to ``count`` consecutive fire times strictly after ``after`` (fewer when they run out)."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        times: list[datetime] = []
        current = after
        while len(times) < count:
            fire = self.next_fire(current)
            if fire is None:
                break
            times.append(fire)
            current = fire
        return times

    def has_future_fire(self, after: datetime | None = None) -> bool:
        """Whether the expression fires at least once after ``after`` (default: now)."""
        return self.next_fire(after if after is not None else datetime.now(UTC)) is not None


def next_fire_time(expr: str, after: datetime, tz: str | ZoneInfo = "UTC") -> datetime | None:
    """The first time Quartz cron expression ``expr`` fires strictly after ``after``, evaluated in ``tz``."""
    return CronExpression.parse(expr, tz).next_fire(after)


def instant(ms: int) -> datetime:
    """Epoch milliseconds (how the store keeps times) as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def stamp(ms: int) -> str:
    """Epoch milliseconds for a log line; -1 (no time) reads "never"."""
    return "never" if ms < 0 else f"{instant(ms):%Y-%m-%d %H:%M:%S} UTC"


def next_after(expression: CronExpression, ms: int) -> int:
    """The first fire time strictly after ``ms``, in epoch ms; -1 when none is left."""
    fire = expression.next_fire(instant(ms))
    return -1 if fire is None else int(fire.timestamp()) * 1000
