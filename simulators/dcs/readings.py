"""Lazy, fast JSON text generators for DCS readings (both API generations).

Rows are produced with plain string formatting (no ``json.dumps`` per row) and handed out in
chunks of about ``CHUNK_ROWS`` rows, so a year of half-hours streams without building a list.

Conventions (documented choices, fact sheet §3 leaves them open):

* a reading's ``timestamp`` / ``startTime`` is the START of its period; readings exist only for
  periods that have ENDED at the simulator's "now" and that start on/after 2000-01-01;
* cumulative register, NEW API standard ``value`` and complete ``totalValue`` = the register
  total at the period END; ``periodValue`` = total(end) - total(start) (true consumption, also
  across a register reset); OLD API ``totalValue`` / ``periodValue`` likewise;
* instantaneous register: ``value`` / ``totalValue`` = the curve sampled at the period start,
  ``periodValue`` = 0; virtual meters: ``value`` = sum over the aliases of the period consumption
  (cumulative VM) or of the instantaneous values (instantaneous VM), OLD API ``totalValue`` = 0;
* ``status`` bit 1: the period covers a configured gap slot and ``interpolated=true`` (without
  interpolation such periods are omitted in the NEW API and padded with ``isGenerated`` rows of
  zeros in the OLD API); bit 2: the period contains the register's configured reset boundary;
* ``nan`` fault: the first three rows carry the strings "NaN", "Infinity", "-Infinity".
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
import json
from typing import TYPE_CHECKING

from .model import (
    DATA_START_B,
    EPOCH_ORDINAL,
    SLOT_S,
    SLOTS_PER_DAY,
    SLOTS_PER_WEEK,
    SimRegister,
    SimVirtualMeter,
    boundary,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CHUNK_ROWS = 1024  # ~64 KiB of standard-format rows per chunk
NAN_STRINGS = ('"NaN"', '"Infinity"', '"-Infinity"')  # fact sheet §3: string values
PERIOD_NAMES = {  # canonical spelling (fact sheet §3 periodType / integrationPeriod)
    "halfhour": "halfHour",
    "hour": "hour",
    "day": "day",
    "week": "week",
    "month": "month",
}
PERIOD_MINUTES = {"halfhour": 30, "hour": 60, "day": 1440, "week": 10080, "month": 43200}
_FIXED_SLOTS = {"halfhour": 1, "hour": 2}
_HM_Z = [f"{j // 2:02d}:{(j % 2) * 30:02d}:00Z" for j in range(SLOTS_PER_DAY)]
_HM = [f"{j // 2:02d}:{(j % 2) * 30:02d}:00" for j in range(SLOTS_PER_DAY)]


def add_months(ts: datetime, months: int) -> datetime:
    """Return ``ts`` (a 1st-of-month midnight) moved by ``months`` calendar months."""
    index = ts.year * 12 + ts.month - 1 + months
    return datetime.combine(date(index // 12, index % 12 + 1, 1), time(), ts.tzinfo)


def step(ts: datetime, period: str, count: int) -> datetime:
    """Return ``ts`` moved by ``count`` periods of type ``period`` (calendar-aware)."""
    if period == "month":
        return add_months(ts, count)
    if period in ("day", "week"):
        days = count * (7 if period == "week" else 1)
        local = ts.replace(tzinfo=None) + timedelta(days=days)
        return local.replace(tzinfo=ts.tzinfo)
    return ts + timedelta(minutes=PERIOD_MINUTES[period] * count)


_ALIGNMENT: dict[
    str, Callable[[datetime], bool]
] = {  # period -> test of an aware time (in the zone used for boundaries)
    "halfhour": lambda ts: ts.minute in (0, 30),
    "hour": lambda ts: ts.minute == 0,
    "day": lambda ts: ts.minute == ts.hour == 0,
    "week": lambda ts: ts.minute == ts.hour == 0 and ts.weekday() == 0,
    "month": lambda ts: ts.minute == ts.hour == 0 and ts.day == 1,
}


def is_aligned(ts: datetime, period: str) -> bool:
    """Tell whether ``ts`` starts a period (week: Monday, month: the 1st; fact sheet §3)."""
    return not ts.second and not ts.microsecond and _ALIGNMENT[period](ts)


def iter_periods(
    start: datetime, end: datetime, period: str, zone: tzinfo, now_b: int
) -> Iterator[tuple[int, int]]:
    """Yield (b0, b1) boundary pairs of the periods in [start, end) that hold readings."""
    first_b = max(DATA_START_B, boundary(start))
    last_b = min(now_b, boundary(end))
    if last_b <= first_b:  # nothing stored in the span (also avoids stepping past year 9999)
        return
    if period in _FIXED_SLOTS:
        width = _FIXED_SLOTS[period]
        b_start = boundary(start)
        if first_b > b_start:  # skip whole periods before the data start
            b_start += -(-(first_b - b_start) // width) * width
        for b in range(b_start, last_b - width + 1, width):
            yield b, b + width
        return
    cur = start.astimezone(zone)
    if boundary(cur) < first_b:  # jump close to the first stored period instead of stepping
        target = datetime.fromtimestamp(first_b * SLOT_S, zone)
        if period == "month":
            skip = (target.year - cur.year) * 12 + target.month - cur.month - 1
        else:
            skip = ((target.date() - cur.date()).days - 1) // (7 if period == "week" else 1)
        cur = step(cur, period, max(0, skip))
    while True:
        nxt = step(cur, period, 1)
        b0, b1 = boundary(cur), boundary(nxt)
        if b1 > last_b:
            return
        if b0 >= first_b:
            yield b0, b1
        cur = nxt


def _utc_prefix(day: int) -> str:
    """Return "YYYY-MM-DDT" for a day index since 1970-01-01."""
    return date.fromordinal(EPOCH_ORDINAL + day).isoformat() + "T"


def utc_stamp(b: int) -> str:
    """Return the UTC ``...Z`` timestamp of boundary ``b``."""
    return _utc_prefix(b // SLOTS_PER_DAY) + _HM_Z[b % SLOTS_PER_DAY]


def iso_z(ts: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(kw_only=True, slots=True)
class ReadingQuery:
    """Everything a readings generator needs, already validated."""

    register: SimRegister | None
    virtual_meter: SimVirtualMeter | None
    period: str  # lower-case key of PERIOD_NAMES
    start: datetime
    end: datetime
    zone: tzinfo
    now_b: int
    calibrated: bool
    interpolated: bool
    gaps: tuple[int, ...]  # sorted gap slot indexes (cumulative registers only)
    nan: bool

    def periods(self) -> Iterator[tuple[int, int]]:
        """Yield the (b0, b1) pairs of this query."""
        return iter_periods(self.start, self.end, self.period, self.zone, self.now_b)

    def gap_in(self, b0: int, b1: int) -> bool:
        """Tell whether a configured gap slot lies in [b0, b1)."""
        i = bisect_left(self.gaps, b0)
        return i < len(self.gaps) and self.gaps[i] < b1


def _chunks(rows: Iterator[str]) -> Iterator[str]:
    """Join rows into comma-separated chunks of CHUNK_ROWS rows (leading comma after the first)."""
    return _chunk_lists([row] for row in rows)


def _chunk_lists(lists: Iterator[list[str]]) -> Iterator[str]:
    """Join lists of rows into comma-separated chunks of about CHUNK_ROWS rows."""
    buf: list[str] = []
    first = True
    for rows in lists:
        buf.extend(rows)
        if len(buf) >= CHUNK_ROWS:
            yield ("" if first else ",") + ",".join(buf)
            first = False
            buf = []
    if buf:
        yield ("" if first else ",") + ",".join(buf)


MISSING = -1  # run status of a gap slot when interpolation is off


def _runs(q: ReadingQuery, reg: SimRegister) -> Iterator[tuple[int, int, int, int]]:
    """Yield (lo, hi, status, offset_m) runs of half-hour period starts of a cumulative register.

    Within a run the status flags and the total correction are constant, so the caller can
    format rows in a tight loop.
    """
    lo = max(DATA_START_B, boundary(q.start))
    hi = min(q.now_b, boundary(q.end))
    if hi <= lo:
        return
    gaps = [g for g in q.gaps[bisect_left(q.gaps, lo) :] if g < hi]
    gap_set = frozenset(gaps)
    cuts = {lo, hi}
    for g in gaps:
        cuts.update((g, g + 1))
    if q.calibrated and reg.calibration_b is not None:
        cuts.add(reg.calibration_b - 1)  # the period ending at calibration_b is the first
    if reg.reset_b is not None:
        cuts.update((reg.reset_b, reg.reset_b + 1))
    points = sorted(c for c in cuts if lo <= c <= hi)
    for p0, p1 in pairwise(points):
        status = 0
        if p0 in gap_set:
            status = 1 if q.interpolated else MISSING
        if p0 == reg.reset_b and status != MISSING:
            status |= 2
        yield p0, p1, status, reg.offset_m(p0 + 1, q.calibrated)


def _week_tables(reg: SimRegister) -> tuple[list[int], list[str]]:
    """Return per-slot end totals E[k] (milli, relative to the week base) and consumptions."""
    rate, wave = reg.rate_m, reg.wave
    ends = [rate * (k + 1) + wave[(k + 1) % SLOTS_PER_WEEK] for k in range(SLOTS_PER_WEEK)]
    starts = [rate * k + wave[k] for k in range(SLOTS_PER_WEEK)]
    return ends, [f"{(e - s) / 1000:.3f}" for e, s in zip(ends, starts, strict=True)]


def _fast_rows(
    q: ReadingQuery, reg: SimRegister, heads: list[str], tails: list[str], *, old: bool
) -> Iterator[list[str]]:
    """Yield per-day lists of half-hour rows of a cumulative register.

    Row = ``<day head><heads[j]><total><tails[j]>``; ``tails`` may contain ``{status}``,
    ``{period}`` and ``{interp}`` which are filled per run. OLD API rows put the row id (the slot
    index) in front. Gap slots without interpolation are skipped (NEW) or padded (OLD).
    """
    ends, consumption = _week_tables(reg)
    base, week_rate = reg.base_m, reg.rate_m * SLOTS_PER_WEEK
    for lo, hi, status, off in _runs(q, reg):
        if status == MISSING and not old:
            continue
        if status == MISSING:
            yield [
                f'{{"id":{b},"startTime":"{utc_stamp(b)}","duration":30,"totalValue":0.0,'
                '"periodValue":0.0,"isGenerated":true,"isInterpolated":false}'
                for b in range(lo, hi)
            ]
            continue
        interp = "true" if status & 1 else "false"
        run_tails = [
            tails[k % SLOTS_PER_DAY].format(status=status, period=consumption[k], interp=interp)
            for k in range(SLOTS_PER_WEEK)
        ]
        for day in range(lo // SLOTS_PER_DAY, (hi - 1) // SLOTS_PER_DAY + 1):
            first = day * SLOTS_PER_DAY
            prefix = _utc_prefix(day)
            week, k0 = divmod(first, SLOTS_PER_WEEK)
            c = base + week_rate * week + off
            j0, j1 = max(lo - first, 0), min(hi - first, SLOTS_PER_DAY)
            if old:
                yield [
                    f'{{"id":{first + j},"startTime":"{prefix}{heads[j]}'
                    f"{(c + ends[k0 + j]) / 1000:.3f}{run_tails[k0 + j]}"
                    for j in range(j0, j1)
                ]
            else:
                head = '{"timestamp":"' + prefix
                yield [
                    f"{head}{heads[j]}{(c + ends[k0 + j]) / 1000:.3f}{run_tails[k0 + j]}"
                    for j in range(j0, j1)
                ]


# ---------------------------------------------------------------- NEW API ("DcsWebApi")


def new_api_body(q: ReadingQuery, *, complete: bool, duration_key: str) -> Iterator[str]:
    """Yield the JSON text of a NEW API readings object, ``readings`` last (fact sheet §3, §7)."""
    if q.register is not None:
        name, unit = q.register.full_name, q.register.unit
        duration = 0
    else:
        assert q.virtual_meter is not None  # noqa: S101 - validated by the caller
        name, unit = q.virtual_meter.name, q.virtual_meter.unit
        duration = 0 if q.virtual_meter.is_instantaneous else PERIOD_MINUTES[q.period]
    yield (
        f'{{"startTime":"{iso_z(q.start)}","endTime":"{iso_z(q.end)}",'
        f'"name":{json.dumps(name)},"periodType":"{PERIOD_NAMES[q.period]}",'
        f'"unit":{json.dumps(unit)},"{duration_key}":{duration},"readings":['
    )
    reg = q.register
    if reg is not None and q.period == "halfhour" and not q.nan and not reg.is_instantaneous:
        if complete:
            heads = [hm + '","totalValue":' for hm in _HM_Z]
            tails = [',"periodValue":{period},"status":{status}}}'] * SLOTS_PER_DAY
        else:
            heads = [hm + '","value":' for hm in _HM_Z]
            tails = [',"status":{status}}}'] * SLOTS_PER_DAY
        yield from _chunk_lists(_fast_rows(q, reg, heads, tails, old=False))
    else:
        yield from _chunks(_generic_new_rows(q, complete=complete))
    yield "]}"


def _generic_new_rows(q: ReadingQuery, *, complete: bool) -> Iterator[str]:
    """Yield NEW API rows for any source and period type (one function call per value)."""
    reg, vm = q.register, q.virtual_meter
    for index, (b0, b1) in enumerate(q.periods()):
        status = 0
        total_s: str
        period_s = "0.0"
        if reg is not None:
            if not reg.is_instantaneous:
                if q.gaps and q.gap_in(b0, b1):
                    if not q.interpolated:
                        continue
                    status = 1
                if reg.reset_b is not None and b0 <= reg.reset_b < b1:
                    status |= 2
                total_s = f"{reg.total(b1, q.calibrated):.3f}"
                period_s = f"{reg.consumption(b0, b1):.3f}"
            else:
                total_s = repr(reg.instantaneous(b0))
        else:
            assert vm is not None  # noqa: S101 - validated by the caller
            total_s = repr(vm.value(b0, b1))
        if q.nan and index < len(NAN_STRINGS):
            total_s = period_s = NAN_STRINGS[index]
        stamp = utc_stamp(b0)
        if complete:
            yield (
                f'{{"timestamp":"{stamp}","totalValue":{total_s},'
                f'"periodValue":{period_s},"status":{status}}}'
            )
        else:
            yield f'{{"timestamp":"{stamp}","value":{total_s},"status":{status}}}'


# ---------------------------------------------------------------- OLD API (/api, DCS v3)


class _LocalStamps:
    """Format boundaries as local ISO timestamps with their UTC offset, cached per UTC day."""

    def __init__(self, zone: tzinfo) -> None:
        """Remember the zone; nothing is computed up front."""
        self._zone = zone
        self._day = -1
        self._local_day = -1
        self._offset_slots: int | None = None
        self._prefix = ""
        self._suffix = ""

    def __call__(self, b: int) -> str:
        """Return the local timestamp of boundary ``b``."""
        day = b // SLOTS_PER_DAY
        if day != self._day:
            self._day = day
            first = datetime.fromtimestamp(day * 86400, self._zone).utcoffset()
            last = datetime.fromtimestamp(day * 86400 + 86399, self._zone).utcoffset()
            self._offset_slots = None
            self._local_day = -1
            if first is not None and first == last:
                seconds = int(first.total_seconds())
                self._offset_slots = seconds // SLOT_S
                sign = "-" if seconds < 0 else "+"
                hours, rem = divmod(abs(seconds), 3600)
                self._suffix = f"{sign}{hours:02d}:{rem // 60:02d}"
        if self._offset_slots is None:  # a DST change happens on this UTC day
            return datetime.fromtimestamp(b * SLOT_S, self._zone).isoformat()
        local = b + self._offset_slots
        if local // SLOTS_PER_DAY != self._local_day:
            self._local_day = local // SLOTS_PER_DAY
            self._prefix = _utc_prefix(self._local_day)
        return f"{self._prefix}{_HM[local % SLOTS_PER_DAY]}{self._suffix}"


def old_api_body(
    q: ReadingQuery, *, decimal_places: int, local: bool, manual: bool
) -> Iterator[str]:
    """Yield the JSON array text of OLD API register / virtual meter readings (fact sheet §3)."""
    yield "["
    reg = q.register
    if manual:  # the simulator stores no manually entered readings
        pass
    elif (
        reg is not None
        and q.period == "halfhour"
        and not q.nan
        and not local
        and not reg.is_instantaneous
        and decimal_places >= 3  # totals carry 3 decimals: rounding to >= 3 changes nothing
    ):
        heads = [hm + '","duration":30,"totalValue":' for hm in _HM_Z]
        tails = [
            ',"periodValue":{period},"isGenerated":false,"isInterpolated":{interp}}}'
        ] * SLOTS_PER_DAY
        yield from _chunk_lists(_fast_rows(q, reg, heads, tails, old=True))
    else:
        yield from _chunks(_old_rows(q, decimal_places=decimal_places, local=local))
    yield "]"


def _old_rows(q: ReadingQuery, *, decimal_places: int, local: bool) -> Iterator[str]:
    """Yield OLD API rows ``{id,startTime,duration,totalValue,periodValue,isGenerated,...}``."""
    reg, vm = q.register, q.virtual_meter
    stamp = _LocalStamps(q.zone) if local else utc_stamp
    dp = decimal_places
    for index, (b0, b1) in enumerate(q.periods()):
        generated = interpolated = "false"
        total = period = 0.0
        row_id = b0
        if reg is not None:
            if reg.is_instantaneous:
                total = reg.instantaneous(b0)
            elif q.gaps and q.gap_in(b0, b1) and not q.interpolated:
                generated = "true"
            else:
                if q.gaps and q.gap_in(b0, b1):
                    interpolated = "true"
                total = reg.total(b1, q.calibrated)
                period = reg.consumption(b0, b1)
        else:
            assert vm is not None  # noqa: S101 - validated by the caller
            row_id = 0
            period = vm.value(b0, b1)
        total_s, period_s = repr(round(total, dp)), repr(round(period, dp))
        if q.nan and index < len(NAN_STRINGS):
            total_s = period_s = NAN_STRINGS[index]
        yield (
            f'{{"id":{row_id},"startTime":"{stamp(b0)}","duration":{(b1 - b0) * 30},'
            f'"totalValue":{total_s},"periodValue":{period_s},'
            f'"isGenerated":{generated},"isInterpolated":{interpolated}}}'
        )
