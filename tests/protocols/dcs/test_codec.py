"""Tests of the sans-I/O DCS codec: request parameters and the streamed readings decoder."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
import json

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meterlink.protocols.dcs import (
    DcsFormat,
    DcsMalformedResponseError,
    DcsPeriod,
    DcsReading,
    DcsSource,
    DcsStatus,
    DcsTarget,
)
from custom_components.meterlink.protocols.dcs.codec import (
    DcsReadingsDecoder,
    check_alignment,
    error_details,
    format_utc,
    parse_list,
    parse_meter,
    parse_virtual_meter,
    v3_readings_params,
    web_api_readings_params,
)

T0 = datetime(2021, 9, 20, 18, 0, tzinfo=UTC)

# The sample of DcsPublicApiDescription.md, abridged.
SAMPLE_METERS = [
    {
        "connectionMethod": "tcp",
        "deviceId": "",
        "id": 405,
        "name": "Sample meter",
        "remoteAddress": "10.8.222.99:5000",
        "serialNumber": "R1100729",
        "status": "online",
        "registers": [
            {
                "address": "130",
                "id": 733,
                "isInstantaneous": False,
                "name": "Active Energy (import)",
                "scaleFactor": "",
                "defaultScaleFactor": "1",
                "unit": "kWh",
            }
        ],
        "somethingNew": {"servers": "may add properties"},
    }
]


def web_body(rows: list[dict[str, object]], **header: object) -> bytes:
    doc = {
        "startTime": "2021-09-20T18:00:00Z",
        "endTime": "2021-09-20T20:00:00Z",
        "name": "Sample meter: Active Energy (import)",
        "periodType": "halfHour",
        "unit": "kWh",
        "duration": 0,
        **header,
        "readings": rows,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def std_rows(n: int) -> list[dict[str, object]]:
    return [
        {
            "timestamp": format_utc(T0 + timedelta(minutes=30 * i)),
            "value": 100.0 + i * 1.5,
            "status": i % 3,
        }
        for i in range(n)
    ]


def decode(layout: str, body: bytes, size: int, **kw: object) -> list[DcsReading]:
    decoder = DcsReadingsDecoder(layout, **kw)  # type: ignore[arg-type]
    rows: list[DcsReading] = []
    for i in range(0, len(body), size):
        rows.extend(decoder.feed(body[i : i + size]))
    rows.extend(decoder.close())
    return rows


def test_meter_sample_parses() -> None:
    (meter,) = parse_list(SAMPLE_METERS, parse_meter, "meters")
    assert meter.id == 405
    assert meter.serial_number == "R1100729"
    (reg,) = meter.registers
    assert reg.id == 733
    assert reg.target.wire == "R733"
    assert reg.scale_factor == 1.0  # defaultScaleFactor applies when scaleFactor is ""
    assert reg.address == "130"
    assert not reg.is_instantaneous


def test_virtual_meter_parses() -> None:
    vm = parse_virtual_meter(
        {
            "id": 9,
            "name": "Sample Virtual Meter",
            "expression": "R1+R2",
            "decimalPlaces": 2,
            "isInstantaneous": False,
            "unit": "kWh",
            "registerAliases": [{"alias": "R1", "registerId": 1156, "registerName": ""}],
        }
    )
    assert vm.target.wire == "VM9"
    assert vm.aliases[0].register_id == 1156
    assert vm.decimal_places == 2


@pytest.mark.parametrize(
    "payload",
    [{"id": "405"}, {"name": "no id"}, [1, 2], {"id": 1, "registers": "x"}, "text"],
)
def test_bad_meter_is_typed_error(payload: object) -> None:
    with pytest.raises(DcsMalformedResponseError):
        parse_list(payload, parse_meter, "meters")


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 16])
def test_web_standard_stream_any_chunking(size: int) -> None:
    body = web_body(std_rows(40))
    rows = decode("web_standard", body, size)
    assert len(rows) == 40
    assert rows[0] == DcsReading(T0, 100.0, None, DcsStatus.NONE)
    assert rows[5].status == DcsStatus.RESET
    assert rows[-1].timestamp == T0 + timedelta(minutes=30 * 39)
    assert rows[-1].total == pytest.approx(100.0 + 39 * 1.5)


def test_web_standard_value_as_period_for_virtual_meters() -> None:
    rows = decode("web_standard", web_body(std_rows(2)), 5, value_field="period")
    assert rows[1] == DcsReading(T0 + timedelta(minutes=30), None, 101.5, DcsStatus.INTERPOLATED)


def test_web_complete_and_header() -> None:
    rows_in = [
        {"timestamp": "2021-09-20T18:00:00Z", "totalValue": 10.5, "periodValue": 0.5, "status": 0},
        {"timestamp": "2021-09-20T18:30:00Z", "totalValue": 11, "periodValue": 1e-1, "status": 2},
    ]
    decoder = DcsReadingsDecoder("web_complete")
    rows = decoder.feed(web_body(rows_in, readingDuration=30)) + decoder.close()
    assert rows[1] == DcsReading(T0 + timedelta(minutes=30), 11.0, 0.1, DcsStatus.RESET)
    header = decoder.header
    assert header.name == "Sample meter: Active Energy (import)"
    assert header.unit == "kWh"
    assert header.start == T0
    assert header.duration == 30


def test_slow_path_other_layouts_and_keys_after_readings() -> None:
    body = (
        b'{ "name" : "readings: not the key",\n "readings" : [\n'
        b'  { "status" : 1, "value" : "NaN", "timestamp" : "2021-09-20T18:00:00Z" } ,\n'
        b'  {"timestamp":"2021-09-20T18:30:00Z","Value":"7.5","status":0}\n'
        b' ] , "unit": "kWh" }  '
    )
    for size in (1, 3, len(body)):
        decoder = DcsReadingsDecoder("web_standard")
        rows = []
        for i in range(0, len(body), size):
            rows += decoder.feed(body[i : i + size])
        rows += decoder.close()
        assert rows == [
            DcsReading(T0, None, None, DcsStatus.INTERPOLATED),
            DcsReading(T0 + timedelta(minutes=30), 7.5, None, DcsStatus.NONE),
        ]
        assert decoder.header.name == "readings: not the key"
        assert decoder.header.unit == "kWh"


def test_non_finite_values_become_none() -> None:
    rows = [
        {"timestamp": "2021-09-20T18:00:00Z", "value": v, "status": 0}
        for v in ("NaN", "Infinity", "-Infinity", None)
    ]
    assert [r.total for r in decode("web_standard", web_body(rows), 9)] == [None] * 4


def test_v3_rows() -> None:
    rows_in = [
        {
            "id": 26167735 + i,
            "startTime": format_utc(T0 + timedelta(minutes=30 * i)),
            "duration": 30,
            "totalValue": 10161.5 + i,
            "periodValue": 1.0,
            "isGenerated": i == 1,
            "isInterpolated": i == 2,
        }
        for i in range(3)
    ]
    body = json.dumps(rows_in).encode()  # with spaces: the slow path
    compact = json.dumps(rows_in, separators=(",", ":")).encode()  # the fast path
    for data in (body, compact):
        rows = decode("v3", data, 11)
        assert [r.status for r in rows] == [
            DcsStatus.NONE,
            DcsStatus.GENERATED,
            DcsStatus.INTERPOLATED,
        ]
        assert rows[2].total == 10163.5
        assert rows[2].period == 1.0


def test_v3_local_time_offsets_kept_aware() -> None:
    body = (
        b'[{"id":1,"startTime":"2021-07-01T00:00:00+01:00","duration":30,"totalValue":1,'
        b'"periodValue":1,"isGenerated":false,"isInterpolated":false}]'
    )
    (row,) = decode("v3", body, 4)
    assert row.timestamp == datetime(2021, 6, 30, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize("layout", ["web_standard", "v3"])
def test_empty_readings(layout: str) -> None:
    body = web_body([]) if layout == "web_standard" else b"[ ]"
    assert decode(layout, body, 2) == []


@pytest.mark.parametrize(
    ("layout", "body"),
    [
        ("web_standard", web_body(std_rows(3))[:-30]),  # truncated mid-row
        ("web_standard", web_body(std_rows(3))[:-1]),  # no closing brace
        ("web_standard", b"<html>Server Error</html>"),
        ("web_standard", b'{"readings": {"not": "a list"}}'),
        ("web_standard", b'{"readings": [1, 2]}'),
        ("web_standard", b'{"readings": [{"value": 1}]}'),
        ("web_standard", b'{"readings": [{"timestamp": "yesterday", "value": 1}]}'),
        ("web_standard", b'{"readings": [{"timestamp": "2021-09-20T18:00:00Z", "value": true}]}'),
        ("web_standard", web_body(std_rows(1)) + b"trailing"),
        ("web_standard", b'{"a": 1 "b": 2}'),
        ("v3", b'{"not": "an array"}'),
        ("v3", b"[\xff\xfe]"),
    ],
)
def test_malformed_is_typed(layout: str, body: bytes) -> None:
    with pytest.raises(DcsMalformedResponseError) as err:
        decode(layout, body, 5)
    assert err.value.snippet  # the offending excerpt travels with the error


def test_garbage_without_end_is_bounded() -> None:
    decoder = DcsReadingsDecoder("web_standard")
    decoder.feed(b'{"readings": [')
    chunk = b'{"timestamp": "' + b"x" * 65536

    def feed_forever() -> None:
        for _ in range(40):
            decoder.feed(chunk)

    with pytest.raises(DcsMalformedResponseError):
        feed_forever()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=50))
def test_fuzz_only_typed_errors(data: bytes, size: int) -> None:
    for layout in ("web_standard", "web_complete", "v3"):
        with contextlib.suppress(DcsMalformedResponseError):
            decode(layout, data, size)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.integers(0, 3),
        ),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=64),
)
def test_fuzz_round_trip(values: list[tuple[float, int]], size: int) -> None:
    rows = [
        {"timestamp": format_utc(T0 + timedelta(minutes=30 * i)), "value": v, "status": s}
        for i, (v, s) in enumerate(values)
    ]
    decoded = decode("web_standard", web_body(rows), size)
    assert [(r.total, int(r.status)) for r in decoded] == values


def test_web_params_two_of_three_and_alignment() -> None:
    target = DcsTarget.parse("r733")
    params = web_api_readings_params(
        target,
        start=T0,
        end=None,
        period_count=4,
        period=DcsPeriod.HALF_HOUR,
        fmt=DcsFormat.COMPLETE,
        calibrated=True,
        interpolated=False,
    )
    assert params == {
        "id": "R733",
        "periodType": "halfHour",
        "format": "complete",
        "calibrated": "true",
        "interpolated": "false",
        "startTime": "2021-09-20T18:00:00Z",
        "periodCount": "4",
    }
    common = {"fmt": DcsFormat.STANDARD, "calibrated": True, "interpolated": True}
    with pytest.raises(ValueError, match="exactly two"):
        web_api_readings_params(
            target, start=T0, end=T0, period_count=1, period=DcsPeriod.DAY, **common
        )
    with pytest.raises(ValueError, match="does not start a day"):
        web_api_readings_params(
            target, start=T0, end=None, period_count=1, period=DcsPeriod.DAY, **common
        )
    with pytest.raises(ValueError, match="virtual meters"):
        web_api_readings_params(
            DcsTarget.parse("VM9"),
            start=T0,
            end=None,
            period_count=1,
            period=DcsPeriod.HALF_HOUR,
            fmt=DcsFormat.COMPLETE,
            calibrated=True,
            interpolated=True,
        )


@pytest.mark.parametrize(
    ("when", "period", "ok"),
    [
        (datetime(2024, 1, 1, 0, 30, tzinfo=UTC), DcsPeriod.HALF_HOUR, True),
        (datetime(2024, 1, 1, 0, 15, tzinfo=UTC), DcsPeriod.HALF_HOUR, False),
        (datetime(2024, 1, 1, 0, 30, tzinfo=UTC), DcsPeriod.HOUR, False),
        (datetime(2024, 1, 1, 0, 0, tzinfo=UTC), DcsPeriod.WEEK, True),  # a Monday
        (datetime(2024, 1, 2, 0, 0, tzinfo=UTC), DcsPeriod.WEEK, False),
        (datetime(2024, 2, 1, 0, 0, tzinfo=UTC), DcsPeriod.MONTH, True),
        (datetime(2024, 2, 2, 0, 0, tzinfo=UTC), DcsPeriod.MONTH, False),
    ],
)
def test_alignment(when: datetime, period: DcsPeriod, ok: bool) -> None:
    if ok:
        check_alignment(when, period, "start")
    else:
        with pytest.raises(ValueError, match="start"):
            check_alignment(when, period, "start")


def test_v3_params() -> None:
    params = v3_readings_params(
        DcsTarget.virtual_meter(9),
        start=date(2019, 1, 1),
        end=datetime(2019, 1, 31, tzinfo=UTC),
        period=DcsPeriod.DAY,
        calibrated=False,
        interpolated=True,
        decimal_places=2,
        use_local_time=True,
        source=DcsSource.MERGED,
    )
    assert params["virtualMeterId"] == "9"
    assert params["start"] == "2019-01-01"
    assert params["end"] == "2019-01-31T00:00:00+00:00"
    assert params["useLocalTime"] == "true"
    assert params["source"] == "merged"
    with pytest.raises(ValueError, match="decimal_places"):
        v3_readings_params(
            DcsTarget.register(1),
            start=None,
            end=None,
            period=DcsPeriod.DAY,
            calibrated=False,
            interpolated=True,
            decimal_places=16,
            use_local_time=False,
            source=DcsSource.AUTOMATIC,
        )


@pytest.mark.parametrize("text", ["733", "X1", "R", "R1.5", "VM-1", "R12345678901"])
def test_bad_targets(text: str) -> None:
    with pytest.raises(ValueError, match="not a DCS register"):
        DcsTarget.parse(text)


def test_error_details() -> None:
    assert error_details(b'{"details": "Invalid id"}') == "Invalid id"
    assert error_details(b"<html>boom</html>") == "<html>boom</html>"
    assert error_details(b"[1]") == "[1]"


def test_bulk_path_long_compact_runs() -> None:
    rows_in = std_rows(500)
    for size in (97, 4096, 1 << 16):
        rows = decode("web_standard", web_body(rows_in), size)
        assert [r.total for r in rows] == [r["value"] for r in rows_in]
        assert [int(r.status) for r in rows] == [r["status"] for r in rows_in]


def test_bulk_path_rejects_garbage_between_rows() -> None:
    body = web_body(std_rows(50)).replace(b"},{", b"},42,{", 1)
    with pytest.raises(DcsMalformedResponseError):
        decode("web_standard", body, 1 << 16)


def test_bulk_path_handles_non_numbers_inside_a_run() -> None:
    rows_in = std_rows(50)
    rows_in[20]["value"] = "NaN"
    rows_in[30]["value"] = None
    rows = decode("web_standard", web_body(rows_in), 1 << 16)
    assert rows[20].total is None
    assert rows[30].total is None
    assert rows[31].total == rows_in[31]["value"]


def test_bulk_path_v3_and_virtual_meters() -> None:
    rows_in = [
        {
            "id": i,
            "startTime": format_utc(T0 + timedelta(minutes=30 * i)),
            "duration": 30,
            "totalValue": 0,
            "periodValue": 1.25 + i,
            "isGenerated": False,
            "isInterpolated": i % 7 == 0,
        }
        for i in range(100)
    ]
    body = json.dumps(rows_in, separators=(",", ":")).encode()
    rows = decode("v3", body, 1 << 16)
    assert len(rows) == 100
    assert rows[7].status == DcsStatus.INTERPOLATED
    vm_rows = decode("v3", body, 1 << 16, value_field="period", virtual_meter=True)
    assert vm_rows[3] == DcsReading(T0 + timedelta(minutes=90), None, 4.25, DcsStatus.NONE)


@pytest.mark.parametrize("bad", [b"inf", b"1_000", b"nan", b"0x10"])
def test_bulk_path_only_takes_json_numbers(bad: bytes) -> None:
    body = web_body(std_rows(60)).replace(b'"value":101.5', b'"value":' + bad, 1)
    assert bad in body
    with pytest.raises(DcsMalformedResponseError):
        decode("web_standard", body, 1 << 16)
