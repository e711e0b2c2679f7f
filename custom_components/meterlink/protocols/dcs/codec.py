"""Sans-I/O codec for the DCS JSON APIs: request parameters in, typed models out.

Nothing here does I/O. :class:`DcsReadingsDecoder` is fed the response body in whatever chunks
arrive and returns the readings each chunk completes, so a year of half-hours streams in
constant memory. Rows in the servers' own compact layout take a regular-expression fast path;
any other valid JSON layout (other key order, spacing) falls back to :mod:`json`.
"""

from __future__ import annotations

import codecs
from datetime import UTC, date, datetime
from itertools import chain, repeat
import json
import math
import re
from typing import TYPE_CHECKING, Any, Final, Literal

from .errors import DcsMalformedResponseError
from .models import (
    DcsFormat,
    DcsMeter,
    DcsPeriod,
    DcsReading,
    DcsReadingsHeader,
    DcsRegister,
    DcsRegisterAlias,
    DcsSource,
    DcsStatus,
    DcsTarget,
    DcsUser,
    DcsVirtualMeter,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

SNIPPET_LEN: Final = 120
# A single row is a few hundred bytes; more than this without a complete row means garbage.
MAX_PENDING: Final = 1 << 20

_NON_FINITE: Final = frozenset({"NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"})


def snippet(data: bytes | str, pos: int = 0) -> str:
    """Return a short printable excerpt of ``data`` around ``pos`` for an error message."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    start = max(0, pos - 20)
    return text[start : start + SNIPPET_LEN]


def _malformed(what: str, data: bytes | str, pos: int = 0) -> DcsMalformedResponseError:
    excerpt = snippet(data, pos)
    return DcsMalformedResponseError(f"{what}: {excerpt!r}", snippet=excerpt)


# --- request parameters -----------------------------------------------------------------------


def format_utc(value: datetime | date) -> str:
    """Return ``value`` as the web API's UTC time (``2021-09-20T18:00:00Z``).

    Naive datetimes are taken as UTC (the API's own convention), dates as midnight UTC.
    """
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_alignment(value: datetime, period: DcsPeriod, name: str) -> None:
    """Raise ValueError unless ``value`` (UTC) starts a ``period`` as the web API demands."""
    utc = value.astimezone(UTC) if value.tzinfo else value
    ok = utc.second == 0 and utc.microsecond == 0
    if period is DcsPeriod.HALF_HOUR:
        ok = ok and utc.minute in (0, 30)
    else:
        ok = ok and utc.minute == 0
        if period is not DcsPeriod.HOUR:
            ok = ok and utc.hour == 0
        if period is DcsPeriod.WEEK:
            ok = ok and utc.weekday() == 0
        if period is DcsPeriod.MONTH:
            ok = ok and utc.day == 1
    if not ok:
        msg = f"{name} {utc.isoformat()} does not start a {period.value} period (UTC)"
        raise ValueError(msg)


def web_api_readings_params(
    target: DcsTarget,
    *,
    start: datetime | None,
    end: datetime | None,
    period_count: int | None,
    period: DcsPeriod,
    fmt: DcsFormat,
    calibrated: bool,
    interpolated: bool,
) -> dict[str, str]:
    """Return the query of ``GET /readings`` (DcsPublicApiDescription.md "Readings").

    Exactly two of ``start``, ``end`` and ``period_count`` define the span.
    """
    given = sum(x is not None for x in (start, end, period_count))
    if given != 2:  # noqa: PLR2004 - the API's own rule: two of three
        msg = "give exactly two of start, end and period_count"
        raise ValueError(msg)
    if fmt is DcsFormat.COMPLETE and target.kind == "virtual_meter":
        msg = "the complete format is not available for virtual meters"
        raise ValueError(msg)
    params = {
        "id": target.wire,
        "periodType": period.value,
        "format": fmt.value,
        "calibrated": _bool(calibrated),
        "interpolated": _bool(interpolated),
    }
    if start is not None:
        check_alignment(start, period, "start")
        params["startTime"] = format_utc(start)
    if end is not None:
        check_alignment(end, period, "end")
        params["endTime"] = format_utc(end)
    if period_count is not None:
        if period_count <= 0:
            msg = f"period_count must be positive, not {period_count}"
            raise ValueError(msg)
        params["periodCount"] = str(period_count)
    return params


def v3_readings_params(
    target: DcsTarget,
    *,
    start: datetime | date | None,
    end: datetime | date | None,
    period: DcsPeriod,
    calibrated: bool,
    interpolated: bool,
    decimal_places: int,
    use_local_time: bool,
    source: DcsSource,
) -> dict[str, str]:
    """Return the query of the v3 ``registerReadings/list`` and ``VirtualMeterReadings/list``."""
    if not 0 <= decimal_places <= 15:  # noqa: PLR2004 - DCSApiDescription.md allows 0..15
        msg = f"decimal_places must be 0..15, not {decimal_places}"
        raise ValueError(msg)
    key = "registerId" if target.kind == "register" else "virtualMeterId"
    params = {
        key: str(target.id),
        "integrationPeriod": period.value,
        "calibrated": _bool(calibrated),
        "interpolated": _bool(interpolated),
        "decimalPlaces": str(decimal_places),
        "useLocalTime": _bool(use_local_time),
        "source": source.value,
    }
    if start is not None:
        params["start"] = _v3_time(start)
    if end is not None:
        params["end"] = _v3_time(end)
    return params


def _v3_time(value: datetime | date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --- small JSON documents ---------------------------------------------------------------------


def loads(body: bytes, what: str) -> Any:
    """Parse a JSON body, or raise :class:`DcsMalformedResponseError` naming ``what``."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        pos = getattr(err, "pos", 0)
        raise _malformed(f"{what} is not valid JSON ({err})", body, pos) from err
    except RecursionError as err:  # json's C scanner: nesting deeper than the recursion limit
        raise _malformed(f"{what} is nested too deeply", body) from err


def error_details(body: bytes) -> str:
    """Return the server's explanation of an error (``{"details": ...}``), else the text."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body.decode("utf-8", "replace").strip()[:SNIPPET_LEN]
    if isinstance(payload, dict):
        details = payload.get("details") or payload.get("message") or payload.get("Message")
        if details is not None:
            return str(details)[:500]
    return json.dumps(payload)[:SNIPPET_LEN]


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _malformed(f"{what}: {key!r} missing or not {_kind_name(kind)}", json.dumps(obj))
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__


def _opt_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return "" if value is None else str(value)


def _scale(obj: Mapping[str, Any]) -> float | None:
    # dcs notes.txt: scaleFactor wins, else defaultScaleFactor; both are strings, "" = unset
    for key in ("scaleFactor", "defaultScaleFactor"):
        raw = obj.get(key)
        if raw in (None, ""):
            continue
        try:
            return float(raw)
        except (TypeError, ValueError):
            continue
    return None


def parse_user(payload: Any) -> DcsUser:
    """Parse a login answer (``{"username", "role", "appVersion"?}``)."""
    if not isinstance(payload, dict):
        raise _malformed("login answer is not an object", json.dumps(payload))
    return DcsUser(
        username=_opt_str(payload, "username"),
        role=_opt_str(payload, "role"),
        app_version=payload.get("appVersion"),
    )


def parse_register(obj: Any) -> DcsRegister:
    """Parse one register object."""
    if not isinstance(obj, dict):
        raise _malformed("register is not an object", json.dumps(obj))
    return DcsRegister(
        id=_get(obj, "id", int, "register"),
        name=_opt_str(obj, "name"),
        unit=_opt_str(obj, "unit"),
        is_instantaneous=bool(obj.get("isInstantaneous", False)),
        address=_opt_str(obj, "address"),
        scale_factor=_scale(obj),
    )


def parse_meter(obj: Any) -> DcsMeter:
    """Parse one meter object with its registers."""
    if not isinstance(obj, dict):
        raise _malformed("meter is not an object", json.dumps(obj))
    registers = obj.get("registers") or []
    if not isinstance(registers, list):
        raise _malformed("meter: 'registers' is not a list", json.dumps(obj))
    return DcsMeter(
        id=_get(obj, "id", int, "meter"),
        name=_opt_str(obj, "name"),
        serial_number=_opt_str(obj, "serialNumber"),
        status=_opt_str(obj, "status").lower() or "unknown",
        connection_method=_opt_str(obj, "connectionMethod"),
        remote_address=_opt_str(obj, "remoteAddress"),
        device_id=_opt_str(obj, "deviceId"),
        meter_type=_opt_str(obj, "meterType"),
        mpn=_opt_str(obj, "mpn"),
        registers=tuple(parse_register(r) for r in registers),
    )


def parse_virtual_meter(obj: Any) -> DcsVirtualMeter:
    """Parse one virtual meter object."""
    if not isinstance(obj, dict):
        raise _malformed("virtual meter is not an object", json.dumps(obj))
    aliases = obj.get("registerAliases") or []
    if not isinstance(aliases, list):
        raise _malformed("virtual meter: 'registerAliases' is not a list", json.dumps(obj))
    places = obj.get("decimalPlaces")
    return DcsVirtualMeter(
        id=_get(obj, "id", int, "virtual meter"),
        name=_opt_str(obj, "name"),
        unit=_opt_str(obj, "unit"),
        is_instantaneous=bool(obj.get("isInstantaneous", False)),
        expression=_opt_str(obj, "expression"),
        decimal_places=places if isinstance(places, int) else None,
        aliases=tuple(
            DcsRegisterAlias(
                alias=_opt_str(a, "alias"),
                register_id=_get(a, "registerId", int, "register alias"),
                register_name=_opt_str(a, "registerName"),
            )
            for a in aliases
            if isinstance(a, dict)
        ),
    )


def parse_list[T](payload: Any, item: Any, what: str) -> list[T]:
    """Parse a JSON array with ``item`` (one object is accepted as a list of one)."""
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise _malformed(f"{what} is not a list", json.dumps(payload))
    result: list[T] = [item(obj) for obj in payload]
    return result


# --- streamed readings ------------------------------------------------------------------------

_NUM = r'(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|null|"[^"\\]*")'
_S = r"[ \t\n\r]*"
_SEP = rf"{_S}(,|\]){_S}"
# The web API's rows, in the key order the specification shows (fast path).
_WEB_STANDARD_ROW: Final = re.compile(
    rf'{_S}\{{{_S}"timestamp"{_S}:{_S}"([^"\\]+)"{_S},{_S}"value"{_S}:{_S}{_NUM}{_S},'
    rf'{_S}"status"{_S}:{_S}(\d+){_S}\}}{_SEP}'
)
_WEB_COMPLETE_ROW: Final = re.compile(
    rf'{_S}\{{{_S}"timestamp"{_S}:{_S}"([^"\\]+)"{_S},{_S}"totalValue"{_S}:{_S}{_NUM}{_S},'
    rf'{_S}"periodValue"{_S}:{_S}{_NUM}{_S},{_S}"status"{_S}:{_S}(\d+){_S}\}}{_SEP}'
)
# The v3 API's rows (DCSApiDescription.md "Register readings").
_V3_ROW: Final = re.compile(
    rf'{_S}\{{{_S}"id"{_S}:{_S}-?\d+{_S},{_S}"startTime"{_S}:{_S}"([^"\\]+)"{_S},'
    rf'{_S}"duration"{_S}:{_S}\d+{_S},{_S}"totalValue"{_S}:{_S}{_NUM}{_S},'
    rf'{_S}"periodValue"{_S}:{_S}{_NUM}{_S},{_S}"isGenerated"{_S}:{_S}(true|false){_S},'
    rf'{_S}"isInterpolated"{_S}:{_S}(true|false){_S}\}}{_SEP}'
)
_WS: Final = re.compile(_S)

# Bulk path: runs of rows in the servers' exact compact layout (no spaces), each followed by a
# comma. ``findall`` extracts them in one call; a length check proves the rows were contiguous
# (every byte of the run is accounted for), otherwise the exact per-row path takes over.
# The captures are loose (anything up to the next delimiter) because that matches fastest;
# float(), fromisoformat() and the status table then reject anything that is not what it should
# be, and _NUMBER_TEXT keeps float()'s extras (inf, nan, 1_0, spaces) out.
_BULK: Final[dict[str, tuple[re.Pattern[str], int]]] = {
    "web_standard": (
        re.compile(r'\{"timestamp":"([^"]*)","value":([^,]*),"status":([^}]*)\},'),
        len('{"timestamp":"","value":,"status":},'),
    ),
    "web_complete": (
        re.compile(
            r'\{"timestamp":"([^"]*)","totalValue":([^,]*),"periodValue":([^,]*),'
            r'"status":([^}]*)\},'
        ),
        len('{"timestamp":"","totalValue":,"periodValue":,"status":},'),
    ),
    "v3": (
        re.compile(
            r'\{"id":([^,]*),"startTime":"([^"]*)","duration":([^,]*),"totalValue":([^,]*),'
            r'"periodValue":([^,]*),"isGenerated":([^,]*),"isInterpolated":([^}]*)\},'
        ),
        len(
            '{"id":,"startTime":"","duration":,"totalValue":,"periodValue":,'
            '"isGenerated":,"isInterpolated":},'
        ),
    ),
}
_NUMBER_TEXT: Final = re.compile(r"[-+0-9.eE]*")
_MIN_BULK: Final = 8  # below this many rows the per-row path is as fast
_STATUS_TEXT: Final = {str(i): DcsStatus(i) for i in range(8)}
_V3_FLAGS: Final = {
    (generated, interpolated): DcsStatus(
        (generated == "true") * DcsStatus.GENERATED
        | (interpolated == "true") * DcsStatus.INTERPOLATED
    )
    for generated in ("true", "false")
    for interpolated in ("true", "false")
}

type Layout = Literal["web_standard", "web_complete", "v3"]
type ValueField = Literal["total", "period"]

_STATUS_CACHE: Final = {i: DcsStatus(i) for i in range(8)}

_START, _KEY, _AFTER_VALUE, _ROWS, _AFTER_ROWS, _DONE = range(6)


class DcsReadingsDecoder:
    """Incremental decoder of a readings response.

    ``layout`` says which API and format produced the body. For the web API's standard format
    ``value_field`` says what ``value`` means: the register total (``"total"``) or, for a
    cumulative virtual meter, the consumption in the period (``"period"``).

    ``feed()`` returns the readings a chunk completed; ``close()`` checks the document ended.
    """

    def __init__(
        self, layout: Layout, *, value_field: ValueField = "total", virtual_meter: bool = False
    ) -> None:
        """Prepare for a new response body.

        On the v3 API a virtual meter's ``totalValue`` is always 0 and its value is in
        ``periodValue`` (DCSApiDescription.md); with ``virtual_meter`` that value is moved to
        the field ``value_field`` names, as on the web API.
        """
        self._layout: Layout = layout
        self._value_field: ValueField = value_field
        self._v3_vm = virtual_meter and layout == "v3"
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._state = _START
        self._json = json.JSONDecoder()
        self._retry_at = 0  # feed() parses again once the buffer holds this many characters
        self._header: dict[str, Any] = {}
        self._tail = ""  # the last consumed text, for error excerpts
        self.rows = 0

    @property
    def header(self) -> DcsReadingsHeader:
        """Return the header fields seen so far (web API only)."""
        h = self._header
        return DcsReadingsHeader(
            name=str(h.get("name", "")),
            unit=str(h.get("unit", "")),
            period_type=str(h.get("periodType", "")),
            start=_opt_time(h.get("startTime")),
            end=_opt_time(h.get("endTime")),
            duration=_opt_int(h.get("readingDuration", h.get("duration"))),
            extra={
                k: v
                for k, v in h.items()
                if k
                not in {"name", "unit", "periodType", "startTime", "endTime", "duration"}
                | {"readingDuration"}
            },
        )

    @property
    def done(self) -> bool:
        """Return True once the whole document has been read."""
        return self._state == _DONE

    def feed(self, data: bytes) -> list[DcsReading]:
        """Consume a chunk of the body; return the readings it completed."""
        try:
            self._buf += self._text.decode(data)
        except UnicodeDecodeError as err:
            raise _malformed("response is not UTF-8", data, err.start) from err
        out: list[DcsReading] = []
        if len(self._buf) >= self._retry_at:
            self._run(out, final=False)
            # what is left is an unfinished value: look again once it has doubled, so that a
            # value dribbled in tiny chunks is parsed a logarithmic, not linear, number of times
            self._retry_at = 2 * len(self._buf)
        if len(self._buf) > MAX_PENDING:
            raise _malformed("no complete JSON value in over 1 MiB", self._buf)
        return out

    def close(self) -> list[DcsReading]:
        """Signal the end of the body; raise if the document is incomplete."""
        try:
            self._buf += self._text.decode(b"", final=True)
        except UnicodeDecodeError as err:
            raise _malformed("response ends inside a UTF-8 character", self._buf) from err
        out: list[DcsReading] = []
        self._run(out, final=True)
        if self._state != _DONE:
            where = "readings" if self._state in (_ROWS, _AFTER_ROWS) else "header"
            raise _malformed(
                f"response ends early (in the {where})", (self._tail + self._buf)[-SNIPPET_LEN:]
            )
        if self._buf.strip():
            raise _malformed("unexpected data after the JSON document", self._buf)
        return out

    # The state machine works on self._buf from position 0 and drops what it consumed.
    def _run(self, out: list[DcsReading], *, final: bool) -> None:  # noqa: C901, PLR0912, PLR0915
        buf = self._buf
        pos = 0
        end = len(buf)
        state = self._state
        while True:
            pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
            if pos >= end and state != _DONE:
                break
            if state == _START:
                char = buf[pos]
                if self._layout == "v3":
                    if char != "[":
                        raise _malformed("expected a JSON array of readings", buf, pos)
                    state = _ROWS
                    pos += 1
                    pos, state = self._rows(buf, pos, out, final=final)
                    if state == _ROWS:
                        break
                    continue
                if char != "{":
                    raise _malformed("expected a JSON object with 'readings'", buf, pos)
                pos += 1
                state = _KEY
            elif state == _KEY:
                char = buf[pos]
                if char == "}":
                    pos += 1
                    state = _DONE
                    continue
                if char == ",":
                    pos += 1
                    continue
                if char != '"':
                    raise _malformed("expected a key", buf, pos)
                colon = buf.find(":", pos)
                if colon < 0:
                    break
                try:
                    key, key_end = self._json.raw_decode(buf, pos)
                except ValueError as err:
                    raise _malformed("bad key", buf, pos) from err
                value_pos = _WS.match(buf, key_end).end()  # type: ignore[union-attr]
                if value_pos >= end:
                    break
                if buf[value_pos] != ":":
                    raise _malformed("expected ':'", buf, value_pos)
                value_pos = _WS.match(buf, value_pos + 1).end()  # type: ignore[union-attr]
                if value_pos >= end:
                    break
                if key == "readings":
                    if buf[value_pos] != "[":
                        raise _malformed("'readings' is not a list", buf, value_pos)
                    pos = value_pos + 1
                    pos, state = self._rows(buf, pos, out, final=final)
                    if state == _ROWS:
                        break
                    continue
                try:
                    value, value_end = self._json.raw_decode(buf, value_pos)
                except RecursionError as err:
                    raise _malformed(f"value of {key!r} is nested too deeply", buf, pos) from err
                except ValueError as err:
                    if final:
                        raise _malformed(f"bad value of {key!r}", buf, value_pos) from err
                    break
                if value_end >= end and not final:
                    break  # a number may continue in the next chunk
                self._header[key] = value
                pos = value_end
                state = _AFTER_VALUE
            elif state in (_AFTER_VALUE, _AFTER_ROWS):
                char = buf[pos]
                if char == ",":
                    state = _KEY
                elif char == "}":
                    state = _DONE
                else:
                    raise _malformed("expected ',' or '}'", buf, pos)
                pos += 1
            elif state == _ROWS:
                pos, state = self._rows(buf, pos, out, final=final)
                if state == _ROWS:
                    break
            else:  # _DONE
                break
        self._state = state
        if pos:
            self._tail = buf[max(0, pos - SNIPPET_LEN) : pos]
        self._buf = buf[pos:]

    def _rows(  # noqa: C901, PLR0912, PLR0915
        self, buf: str, pos: int, out: list[DcsReading], *, final: bool
    ) -> tuple[int, int]:
        """Decode rows from ``pos``; return the new position and state."""
        layout = self._layout
        regex = (
            _V3_ROW
            if layout == "v3"
            else _WEB_COMPLETE_ROW
            if layout == "web_complete"
            else _WEB_STANDARD_ROW
        )
        match = regex.match
        append = out.append
        fromiso = datetime.fromisoformat
        statuses = _STATUS_CACHE
        end = len(buf)
        after = _DONE if layout == "v3" else _AFTER_ROWS
        value_is_total = self._value_field == "total"
        rows = 0
        try:
            # an empty array
            probe = _WS.match(buf, pos).end()  # type: ignore[union-attr]
            if probe < end and buf[probe] == "]" and self.rows == 0 and rows == 0:
                return probe + 1, after
            no_bulk_before = -1
            while True:
                if not self._v3_vm and pos >= no_bulk_before:
                    bulk_end, stop = self._bulk(buf, pos, out)
                    if bulk_end == pos:
                        # no run up to stop: rows before it go one by one (not rescanned per row)
                        no_bulk_before = stop
                    pos = bulk_end
                m = match(buf, pos)
                if m is not None:
                    total: float | None
                    period: float | None
                    groups = m.groups()
                    if layout == "web_complete":
                        ts, raw_total, raw_period, status, sep = groups
                        try:
                            total, period = float(raw_total), float(raw_period)
                        except ValueError:
                            total, period = _num(raw_total), _num(raw_period)
                        flags = statuses[int(status) & 7]
                    elif layout == "web_standard":
                        ts, raw, status, sep = groups
                        try:
                            value: float | None = float(raw)
                        except ValueError:
                            value = _num(raw)
                        total, period = (value, None) if value_is_total else (None, value)
                        flags = statuses[int(status) & 7]
                    else:
                        ts, raw_total, raw_period, generated, interpolated, sep = groups
                        try:
                            total, period = float(raw_total), float(raw_period)
                        except ValueError:
                            total, period = _num(raw_total), _num(raw_period)
                        flags = statuses[(generated == "true") * 4 + (interpolated == "true") * 1]
                        if self._v3_vm:
                            total, period = (period, None) if value_is_total else (None, period)
                    stamp = fromiso(ts)
                    if stamp.tzinfo is None:
                        stamp = stamp.replace(tzinfo=UTC)
                    append(DcsReading(stamp, total, period, flags))
                    rows += 1
                    pos = m.end()
                    if sep == "]":
                        return pos, after
                    continue
                # slow path: any valid JSON object
                pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
                if pos >= end:
                    return pos, _ROWS
                if buf[pos] != "{":
                    raise _malformed("expected a reading object", buf, pos)
                try:
                    obj, obj_end = self._json.raw_decode(buf, pos)
                except RecursionError as err:
                    raise _malformed("reading is nested too deeply", buf, pos) from err
                except ValueError as err:
                    if final:
                        raise _malformed("broken reading", buf, pos) from err
                    return pos, _ROWS
                sep_pos = _WS.match(buf, obj_end).end()  # type: ignore[union-attr]
                if sep_pos >= end:
                    if final:
                        raise _malformed("readings list not closed", buf, pos)
                    return pos, _ROWS
                sep = buf[sep_pos]
                if sep not in ",]":
                    raise _malformed("expected ',' or ']' after a reading", buf, sep_pos)
                append(self._slow_row(obj, buf, pos))
                rows += 1
                pos = sep_pos + 1
                if sep == "]":
                    return pos, after
        except (ValueError, TypeError) as err:
            if isinstance(err, DcsMalformedResponseError):
                raise
            raise _malformed(f"bad reading ({err})", buf, pos) from err
        finally:
            self.rows += rows

    def _bulk(self, buf: str, pos: int, out: list[DcsReading]) -> tuple[int, int]:
        """Decode a run of compact rows at ``pos`` in one go; return where the run ends.

        Returns ``pos`` unchanged when there is no such run, or when anything in it is not
        plain (strings for values, nulls, other spacing): the per-row path handles those. The
        second value is where the candidate run would have ended.
        """
        stop = buf.rfind("},", pos) + 2
        if stop - pos < _MIN_BULK * 60:
            return pos, stop
        pattern, fixed = _BULK[self._layout]
        found = pattern.findall(buf, pos, stop)
        if len(found) < _MIN_BULK:
            return pos, stop
        # contiguity: the constant text of each row plus every captured part must fill the run
        if fixed * len(found) + len("".join(chain.from_iterable(found))) != stop - pos:
            return pos, stop
        # Columns, then rows built by C-level map/zip (tuple.__new__ makes the NamedTuples):
        # about twice as fast as a comprehension calling DcsReading() per row.
        fromiso = datetime.fromisoformat
        make = repeat(DcsReading)
        new = tuple.__new__
        try:
            if self._layout == "web_complete":
                ts_col, total_col, period_col, status_col = zip(*found, strict=True)
                _check_numbers(total_col, period_col)
                rows = list(
                    map(
                        new,
                        make,
                        zip(
                            map(fromiso, ts_col),
                            map(float, total_col),
                            map(float, period_col),
                            map(_STATUS_TEXT.__getitem__, status_col),
                            strict=True,
                        ),
                    )
                )
            elif self._layout == "web_standard":
                ts_col, value_col, status_col = zip(*found, strict=True)
                _check_numbers(value_col)
                values = map(float, value_col)
                nones = repeat(None)
                totals: Iterator[float | None]
                periods: Iterator[float | None]
                totals, periods = (
                    (values, nones) if self._value_field == "total" else (nones, values)
                )
                rows = list(
                    map(
                        new,
                        make,
                        zip(
                            map(fromiso, ts_col),
                            totals,
                            periods,
                            map(_STATUS_TEXT.__getitem__, status_col),
                            strict=False,  # one of the value columns is an endless None
                        ),
                    )
                )
            else:
                id_col, ts_col, duration_col, total_col, period_col, gen_col, int_col = zip(
                    *found, strict=True
                )
                _check_numbers(id_col, duration_col, total_col, period_col)
                rows = list(
                    map(
                        new,
                        make,
                        zip(
                            map(fromiso, ts_col),
                            map(float, total_col),
                            map(float, period_col),
                            map(_V3_FLAGS.__getitem__, zip(gen_col, int_col, strict=True)),
                            strict=True,
                        ),
                    )
                )
        except (ValueError, KeyError):
            return (
                pos,
                stop,
            )  # a "NaN", a null, an odd status, a bad timestamp: the exact path decides
        if rows[0].timestamp.tzinfo is None:
            rows = [r._replace(timestamp=r.timestamp.replace(tzinfo=UTC)) for r in rows]
        out.extend(rows)
        self.rows += len(rows)
        return stop, stop

    def _slow_row(self, obj: Any, buf: str, pos: int) -> DcsReading:
        if not isinstance(obj, dict):
            raise _malformed("reading is not an object", buf, pos)
        ts = obj.get("timestamp", obj.get("startTime"))
        if not isinstance(ts, str):
            raise _malformed("reading without a timestamp", buf, pos)
        stamp = datetime.fromisoformat(ts)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        status = obj.get("status", 0)
        flags = DcsStatus(int(status) & 7) if isinstance(status, int | float) else DcsStatus(0)
        if obj.get("isInterpolated") is True:
            flags |= DcsStatus.INTERPOLATED
        if obj.get("isGenerated") is True:
            flags |= DcsStatus.GENERATED
        if "value" in obj or "Value" in obj:  # the specification's sample once spells "Value"
            value = _num_obj(obj.get("value", obj.get("Value")))
            if self._value_field == "total":
                return DcsReading(stamp, value, None, flags)
            return DcsReading(stamp, None, value, flags)
        total, period = _num_obj(obj.get("totalValue")), _num_obj(obj.get("periodValue"))
        if self._v3_vm:
            total, period = (period, None) if self._value_field == "total" else (None, period)
        return DcsReading(stamp, total, period, flags)


def _check_numbers(*columns: tuple[str, ...]) -> None:
    """Raise ValueError unless every cell holds only the characters of a JSON number."""
    for column in columns:
        if _NUMBER_TEXT.fullmatch("".join(column)) is None:
            msg = "not a plain number"
            raise ValueError(msg)


def _num(raw: str) -> float | None:
    if raw[0] == '"':
        return _num_obj(raw[1:-1])
    if raw == "null":
        return None
    return float(raw)


def _num_obj(value: Any) -> float | None:
    """Return a finite float, or None for null and "NaN"/"Infinity" strings."""
    if value is None:
        return None
    if isinstance(value, str):
        if value in _NON_FINITE:
            return None
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{value!r} is not a number"
        raise TypeError(msg)
    result = float(value)
    return result if math.isfinite(result) else None


def _opt_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
