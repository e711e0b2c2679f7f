"""Regression tests for the inputs the fuzz harnesses (bench/fuzz) found."""

from __future__ import annotations

import math

import pytest

from custom_components.meterlink.protocols.dlms import mbus
from custom_components.meterlink.protocols.dlms.errors import DlmsFramingError
from custom_components.meterlink.protocols.dlms.push import DlmsPushDecoder, PushFraming
from custom_components.meterlink.protocols.e3dc.codec import (
    RscpItem,
    container,
    decode_frame,
    encode_frame,
    item,
)
from custom_components.meterlink.protocols.e3dc.errors import RscpProtocolError
from custom_components.meterlink.protocols.e3dc.models import MAX_GRAPH_INDEX, HistoryTotals
from custom_components.meterlink.protocols.e3dc.tags import RscpTag, RscpType
from custom_components.meterlink.protocols.ekm.codec import EkmAck, EkmDecoder
from custom_components.meterlink.protocols.iec104.codec import decode_time, encode_time
from custom_components.meterlink.protocols.iec104.errors import Iec104ProtocolError
from custom_components.meterlink.protocols.iec104.models import CP56Time2a


@pytest.mark.parametrize("raw", [b"", b"\n", bytes(6), bytes(8)])
def test_iec104_time_of_wrong_length_is_typed(raw: bytes) -> None:
    """bench.fuzz.iec104 input b'\\x02\\n': decode_time raised IndexError on short input."""
    with pytest.raises(Iec104ProtocolError, match=f"CP56Time2a is {len(raw)} octets, expected 7"):
        decode_time(raw)


def test_iec104_time_of_seven_octets_still_decodes() -> None:
    """The length check leaves the normal path alone."""
    stamp = CP56Time2a(millisecond=40123, minute=44, hour=12, day=17, month=1, year=2026)
    assert decode_time(encode_time(stamp)) == stamp


def _non_final_frames(count: int) -> bytes:
    """``count`` M-Bus long frames of 200 data bytes, none of them final (sequence wraps)."""
    return b"".join(
        mbus.encode_mbus_frame(
            mbus.MbusFrame(
                control=mbus.MBUS_C_SND_UD,
                address=mbus.MBUS_A_BROADCAST,
                ci=index % 16,
                stsap=mbus.MBUS_STSAP_MANAGEMENT,
                dtsap=mbus.MBUS_DTSAP_PUSH_CLIENT,
                data=bytes(200),
            )
        )
        for index in range(count)
    )


def _drain(decoder: DlmsPushDecoder) -> None:
    """Read notifications until one needs more bytes (errors propagate)."""
    while decoder.next_notification() is not None:
        pass


def test_mbus_reassembler_is_bounded() -> None:
    """A meter sending non-final segments forever (the 4-bit sequence wraps) hit no limit."""
    decoder = DlmsPushDecoder(framing=PushFraming.MBUS)
    decoder.feed(_non_final_frames(400))  # 80 000 data bytes, more than the 65 536 limit
    with pytest.raises(DlmsFramingError, match=r"segmented M-Bus message of \d+\+ bytes exceeds"):
        _drain(decoder)
    # The rest of the broken message is refused segment by segment, then the stream goes on.
    for _ in range(400):
        try:
            if decoder.next_notification() is None:
                break
        except DlmsFramingError as err:
            assert "expected segment 0" in str(err)  # noqa: PT017
    else:
        pytest.fail("the decoder did not drain its buffer")
    assert len(decoder._mbus_join._parts) <= 65536


def test_mbus_reassembler_under_limit_still_joins() -> None:
    """A long message under the limit is still reassembled whole."""
    join = mbus.MbusReassembler(max_size=1000)
    decoder = mbus.MbusDecoder()
    decoder.feed(b"".join(mbus.segment_mbus(bytes(range(256)) * 3)))
    frames = list(decoder.frames())
    results = [join.add(frame) for frame in frames]
    assert results[-1] == bytes(range(256)) * 3
    assert all(result is None for result in results[:-1])


def _history(*graph_indexes: float) -> RscpItem:
    """A DB_HISTORY_DATA_DAY reply with one value container per graph index, sent and decoded."""
    values = [
        container(
            RscpTag.DB_VALUE_CONTAINER,
            item(RscpTag.DB_GRAPH_INDEX, RscpType.FLOAT32, index),
            item(RscpTag.DB_DC_POWER, RscpType.FLOAT32, 1250.0),
        )
        for index in graph_indexes
    ]
    frame = decode_frame(encode_frame([container(RscpTag.DB_HISTORY_DATA_DAY, *values)]))
    return frame.items[0]


@pytest.mark.parametrize("index", [5.0e10, -1.0, math.inf, math.nan, MAX_GRAPH_INDEX + 1.0])
def test_e3dc_history_graph_index_out_of_range_is_typed(index: float) -> None:
    """bench.fuzz.e3dc: a huge DB_GRAPH_INDEX raised OverflowError/OSError building the time."""
    reply = _history(0.0, index)
    with pytest.raises(RscpProtocolError, match="DB_GRAPH_INDEX of history value 1 is"):
        HistoryTotals.series_from_item(reply, start=1_700_000_000, interval_s=900)


def test_e3dc_history_start_out_of_range_is_typed() -> None:
    """A start no datetime can hold is a typed error too (not OverflowError)."""
    with pytest.raises(RscpProtocolError, match="history interval start"):
        HistoryTotals.from_item(_history(0.0), start=10**15, span_s=900)


def test_e3dc_history_graph_index_in_range_still_places_values() -> None:
    """Valid indexes still place each value at start + index * interval."""
    series = HistoryTotals.series_from_item(
        _history(0.0, 3.0),
        start=1_700_000_000,
        interval_s=900,
    )
    assert [entry.start.timestamp() for entry in series] == [1_700_000_000, 1_700_002_700]
    assert series[1].solar_production_wh == 1250.0


def test_ekm_decoder_drops_bytes_between_exchanges() -> None:
    """bench.fuzz.ekm: bytes arriving with no exchange waiting piled up in the buffer forever."""
    decoder = EkmDecoder()
    decoder.expect_ack()
    decoder.feed(b"\x06")
    assert isinstance(decoder.next_event(), EkmAck)
    for _ in range(1000):  # a chatty RS-485 bus between two polls
        decoder.feed(b"\x02noise" * 20)
        assert decoder.next_event() is None
    assert decoder.buffered == 0
    # The next exchange still reads its frame.
    decoder.expect_ack()
    decoder.feed(b"\x86")  # ACK with a 7E1 parity bit
    assert isinstance(decoder.next_event(), EkmAck)


def test_dcs_value_dribbled_in_tiny_chunks_is_not_reparsed_per_chunk() -> None:
    """bench.fuzz.dcs timeout: a long unfinished reading fed a few bytes at a time was parsed
    again from its start on every chunk (quadratic: seconds for a few KiB, a spin for 1 MiB)."""
    from unittest.mock import patch  # noqa: PLC0415

    from custom_components.meterlink.protocols.dcs.codec import DcsReadingsDecoder  # noqa: PLC0415

    note = "x" * 65536
    body = (
        b'{"readings": [{"timestamp": "2021-09-20T18:00:00Z", "value": 1, "status": 0, '
        b'"note": "' + note.encode() + b'"}], "unit": "kWh"}'
    )
    decoder = DcsReadingsDecoder("web_standard")
    runs = 0
    real_run = decoder._run

    def counting_run(*args: object, **kwargs: object) -> None:
        nonlocal runs
        runs += 1
        real_run(*args, **kwargs)  # type: ignore[arg-type]

    rows = []
    with patch.object(decoder, "_run", counting_run):
        for i in range(0, len(body), 16):
            rows += decoder.feed(body[i : i + 16])
        rows += decoder.close()
    assert [r.total for r in rows] == [1.0]
    assert len(body) // 16 > 4000
    assert runs < 40  # logarithmic in the value's length, not one per chunk


def test_dcs_bulk_run_is_not_rescanned_per_row() -> None:
    """A run of compact rows with an odd row near its end is scanned for a bulk run once, not
    once per row (the per-row path takes over up to the odd row): it was quadratic."""
    from unittest.mock import patch  # noqa: PLC0415

    from custom_components.meterlink.protocols.dcs.codec import DcsReadingsDecoder  # noqa: PLC0415

    rows_text = ",".join(
        f'{{"timestamp":"2021-{mo:02d}-{d:02d}T{h:02d}:00:00Z","value":{i},"status":0}}'
        for i, (mo, d, h) in enumerate(
            (mo, d, h) for mo in (1, 2) for d in range(1, 21) for h in range(24)
        )
    )
    odd = '{"timestamp":"2021-03-01T00:00:00Z","value":null,"status":0}'
    last = '{"timestamp":"2021-03-01T01:00:00Z","value":1,"status":0}'
    body = ('{"readings":[' + rows_text + "," + odd + "," + last + '],"unit":"kWh"}').encode()
    decoder = DcsReadingsDecoder("web_standard")
    calls = 0
    real_bulk = decoder._bulk

    def counting_bulk(*args: object) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        return real_bulk(*args)  # type: ignore[arg-type]

    with patch.object(decoder, "_bulk", counting_bulk):
        rows = decoder.feed(body) + decoder.close()
    assert len(rows) == 962
    assert rows[-2].total is None
    assert calls <= 2
