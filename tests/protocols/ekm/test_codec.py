"""Codec tests: CRC vectors, requests, commands, blocks against ekmmeters, errors, decoders."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import ekmmeters  # type: ignore[import-untyped]
import pytest

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.errors import (
    EkmAddressMismatchError,
    EkmCrcError,
    EkmError,
    EkmProtocolError,
    EkmValueError,
)
from custom_components.meterlink.protocols.ekm.models import (
    EkmBlock,
    EkmMaxDemandPeriod,
    EkmMaxDemandReset,
    EkmPowerFactorKind,
    EkmRelay,
    EkmRelayState,
    EkmV4ReadingA,
    EkmVersion,
    state_out_from_relays,
)
from custom_components.meterlink.protocols.errors import MeterLinkProtocolError

from . import samples


def ekm_crc(data: bytes) -> int:
    """EKM's own CRC (ekmmeters.Meter.calc_crc16) as an int."""
    return int(ekmmeters.Meter.calc_crc16(data.decode("latin-1")), 16)


# --- CRC --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"P1\x02(00000000)\x03", 0x3244),  # fact sheet §3 worked example
        (b"W1\x020081(10001)\x03", 0x6021),  # fact sheet §3 / §5.2
        (b"B0\x03", 0x0555),
        (b"123456789", 0x374B),  # CRC-16/MODBUS check value 0x4B37, swapped
        (b"R1\x020011()\x03", 0x1316),  # jwtd/ekm-omnimeter meter.rb comment (fact sheet §3b)
    ],
)
def test_crc_vectors(data: bytes, expected: int) -> None:
    assert codec.crc16(data) == expected
    assert ekm_crc(data) == expected


def test_crc_matches_ekmmeters_on_many_inputs() -> None:
    for n in range(0, 300, 7):
        data = bytes((i * 37 + n) & 0x7F for i in range(n))
        assert codec.crc16(data) == ekm_crc(data)


def test_password_frame_bytes() -> None:
    assert codec.encode_password() == bytes.fromhex(
        "01 50 31 02 28 30 30 30 30 30 30 30 30 29 03 32 44"
    )


def test_relay_frame_bytes_fact_sheet_example() -> None:
    frame = codec.relay_write(EkmRelay.RELAY_1, EkmRelayState.CLOSED, 1).encode()
    assert frame == bytes.fromhex("01 57 31 02 30 30 38 31 28 31 30 30 30 31 29 03 60 21")


def test_end_session_constant() -> None:
    assert bytes.fromhex("01 42 30 03 75") == codec.END_SESSION


# --- addresses and versions --------------------------------------------------------------


@pytest.mark.parametrize("address", [30001, "30001", "000000030001", " 30001 "])
def test_address_normalisation(address: int | str) -> None:
    assert codec.normalize_address(address) == "000000030001"


@pytest.mark.parametrize(
    "address", ["1234567890123", 1234567890123, "30a01", "", "v4", -1, True, 3.0, None, "\uff13"]
)
def test_bad_addresses(address: Any) -> None:
    with pytest.raises(EkmValueError, match="meter address"):
        codec.normalize_address(address)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (4, EkmVersion.V4),
        ("4", EkmVersion.V4),
        ("v4", EkmVersion.V4),
        ("V3", EkmVersion.V3),
        (EkmVersion.V3, EkmVersion.V3),
        (3, EkmVersion.V3),
    ],
)
def test_versions(version: Any, expected: EkmVersion) -> None:
    assert codec.normalize_version(version) is expected


@pytest.mark.parametrize("version", [5, "v5", "four", "", True, None, 4.0])
def test_bad_versions(version: Any) -> None:
    with pytest.raises(EkmValueError, match="meter version"):
        codec.normalize_version(version)


# --- read requests ---------------------------------------------------------------------


def test_read_requests() -> None:
    assert codec.encode_read_request(30001, EkmBlock.V3) == b"/?000000030001!\r\n"
    assert codec.encode_read_request("30001", EkmBlock.V4_A) == b"/?00000003000100!\r\n"
    assert codec.encode_read_request("000000030001", EkmBlock.V4_B) == b"/?00000003000101!\r\n"
    # fact sheet §3b capture: request to meter 000300000943
    assert codec.encode_read_request(300000943, EkmBlock.V4_A) == bytes.fromhex(
        "2F 3F 30 30 30 33 30 30 30 30 30 39 34 33 30 30 21 0D 0A"
    )


def test_blocks_for() -> None:
    assert codec.blocks_for(EkmVersion.V3) == (EkmBlock.V3,)
    assert codec.blocks_for(EkmVersion.V4) == (EkmBlock.V4_A, EkmBlock.V4_B)
    assert codec.blocks_for(EkmVersion.V4, include_b=False) == (EkmBlock.V4_A,)


# --- blocks against ekmmeters ------------------------------------------------------------


def _compare_with_ekmmeters(raw: bytes, block: EkmBlock, kwh_scale: int) -> None:
    ours = codec.decode_block(raw, block, kwh_scale=kwh_scale)
    theirs = samples.ekmmeters_parse(raw, block.value, kwh_scale)
    layout = codec.LAYOUTS[block]
    assert len(theirs) == len(layout)
    ekm_lengths = (
        ekmmeters.V3Meter().m_blk_a
        if block is EkmBlock.V3
        else ekmmeters.V4Meter().m_blk_a
        if block is EkmBlock.V4_A
        else ekmmeters.V4Meter().m_blk_b
    )
    for spec, (name, value) in zip(layout, theirs.items(), strict=True):
        assert ekm_lengths[name][ekmmeters.MeterData.SizeValue] == spec.length, spec.wire
        mine = getattr(ours, spec.attr)
        if spec.kind is codec.Kind.ENERGY:
            assert mine / 1000 == pytest.approx(value), spec.wire
        elif spec.kind in (codec.Kind.PF, codec.Kind.TIME):
            assert mine.raw == value, spec.wire
        elif spec.kind is codec.Kind.STR and spec.wire == "Request_Type":
            assert mine.encode().hex() == value  # ekmmeters keeps it as a hex "reserved" field
        elif isinstance(value, float):
            assert mine == pytest.approx(value), spec.wire
        else:
            assert mine == value, spec.wire


@pytest.mark.parametrize("kwh_scale", [0, 1, 2])
def test_v4_a_matches_ekmmeters(kwh_scale: int) -> None:
    reading = samples.v4_a(kwh_scale=kwh_scale)
    raw = codec.encode_block(reading)
    _compare_with_ekmmeters(raw, EkmBlock.V4_A, kwh_scale)


@pytest.mark.parametrize("kwh_scale", [0, 1, 2])
def test_v4_b_matches_ekmmeters(kwh_scale: int) -> None:
    raw = codec.encode_block(samples.v4_b(), kwh_scale=1)
    _compare_with_ekmmeters(raw, EkmBlock.V4_B, kwh_scale)


def test_v3_matches_ekmmeters() -> None:
    _compare_with_ekmmeters(codec.encode_block(samples.v3()), EkmBlock.V3, 1)


def test_round_trips() -> None:
    a, b, v3 = samples.v4_a(), samples.v4_b(), samples.v3()
    raw_a = codec.encode_block(a)
    decoded_a = codec.decode_v4_a(raw_a, address=samples.ADDRESS)
    assert decoded_a == dataclasses.replace(a, crc16=raw_a[-2:].hex())
    raw_b = codec.encode_block(b, kwh_scale=1)
    decoded_b = codec.decode_v4_b(raw_b, kwh_scale=1, address=300001285)
    assert decoded_b == dataclasses.replace(b, crc16=raw_b[-2:].hex())
    raw3 = codec.encode_block(v3)
    assert codec.decode_v3(raw3) == dataclasses.replace(v3, crc16=raw3[-2:].hex())
    assert raw_a[249:253] == codec.BLOCK_TRAILER
    assert raw_a[0] == codec.STX


def test_kwh_scale_applies_to_energy_only() -> None:
    raw = bytearray(codec.encode_block(samples.v4_a(kwh_scale=1)))
    raw[230:231] = b"2"
    raw[-2:] = codec.crc16_bytes(bytes(raw[1:-2]))
    reading = codec.decode_v4_a(bytes(raw))
    assert reading.kwh_scale == 2
    assert reading.energy_total_wh == pytest.approx(269230.0)
    assert reading.voltage_ln_1_v == 123.5
    assert reading.frequency_hz == 60.06
    assert codec.to_ekm_dict(reading)["kWh_Tot"] == pytest.approx(269230.0)


def test_derived_values() -> None:
    a = samples.v4_a()
    assert (a.relay_1_closed, a.relay_2_closed) == (True, False)
    assert a.net_power_w == (340, -120, 0, 220)
    assert dataclasses.replace(a, state_out=9).relay_1_closed is None
    assert dataclasses.replace(a, state_watts_dir=0).net_power_w is None
    assert a.power_factor_ln_1.legacy_value == 113
    assert a.power_factor_ln_2.legacy_value == 95
    assert a.power_factor_ln_3.legacy_value == 100
    assert a.meter_time.to_datetime() == samples.TIME
    assert dataclasses.replace(a.meter_time, month=13).to_datetime() is None
    assert state_out_from_relays(True, True) == 4
    assert state_out_from_relays(False, True) == 2


def test_to_ekm_dict_uses_ekm_names() -> None:
    d = codec.to_ekm_dict(samples.v4_b())
    assert d["Cos_Theta_Ln_1"] == "C087"
    assert d["CF_Ratio"] == 800
    assert d["Meter_Time"] == "24052904112724"  # the seed meter's own string
    assert set(codec.to_ekm_dict(samples.v3())) >= {"Meter_Status_Code", "CT_Ratio"}


# --- malformed blocks -----------------------------------------------------------------------


def _patched(raw: bytes, offset: int, data: bytes) -> bytes:
    out = bytearray(raw)
    out[offset : offset + len(data)] = data
    out[-2:] = codec.crc16_bytes(bytes(out[1:-2]))
    return bytes(out)


WHEN = dt.datetime(2024, 5, 29, 4, 11, 27)  # noqa: DTZ001 - meter time is naive
GOOD_A = codec.encode_block(samples.v4_a())


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        (GOOD_A[:254], EkmProtocolError, "254 bytes, not 255"),
        (GOOD_A + b"x", EkmProtocolError, "256 bytes"),
        (b"\x05" + GOOD_A[1:], EkmProtocolError, "not STX"),
        (GOOD_A[:100] + b"9" + GOOD_A[101:], EkmCrcError, "CRC"),
        (_patched(GOOD_A, 16, b"0000x000"), EkmProtocolError, "kWh_Tot"),
        (_patched(GOOD_A, 104, b"-123"), EkmProtocolError, "RMS_Volts_Ln_1"),
        (_patched(GOOD_A, 159, b"X087"), EkmProtocolError, "Cos_Theta_Ln_1"),
        (_patched(GOOD_A, 233, b"2405290411272x"), EkmProtocolError, "Meter_Time"),
        (_patched(GOOD_A, 230, b"x"), EkmProtocolError, "kWh_Scale"),
        (_patched(GOOD_A, 247, b"01"), EkmProtocolError, "Request_Type"),
        (_patched(GOOD_A, 4, b"00030000128!"), EkmProtocolError, "Meter_Address"),
        (_patched(GOOD_A, 4, b"000300009999"), EkmAddressMismatchError, "000300009999"),
    ],
)
def test_bad_blocks(raw: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as info:
        codec.decode_block(raw, EkmBlock.V4_A, address=samples.ADDRESS)
    assert isinstance(info.value, MeterLinkProtocolError)


def test_b_needs_kwh_scale_and_b_request_type() -> None:
    raw_b = codec.encode_block(samples.v4_b(), kwh_scale=1)
    with pytest.raises(EkmValueError, match="kWh scale"):
        codec.decode_block(raw_b, EkmBlock.V4_B)
    with pytest.raises(EkmProtocolError, match="Request_Type"):
        codec.decode_block(raw_b, EkmBlock.V4_A)
    with pytest.raises(EkmValueError, match="kWh scale"):
        codec.encode_block(samples.v4_b())


def test_parity_bit_set_bytes_decode() -> None:
    raw = codec.add_even_parity(GOOD_A)
    assert raw != GOOD_A
    assert any(b & 0x80 for b in raw)
    assert codec.strip_parity(raw) == GOOD_A
    assert codec.decode_v4_a(raw) == codec.decode_v4_a(GOOD_A)


def test_add_even_parity_is_even() -> None:
    for b in range(128):
        assert (codec.add_even_parity(bytes((b,)))[0]).bit_count() % 2 == 0


def test_encode_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(EkmValueError, match="RMS_Watts_Ln_1"):
        codec.encode_block(samples.v4_a(power_ln_1_w=12345678))
    with pytest.raises(EkmValueError, match="power factor"):
        codec.power_factor(10.0)
    with pytest.raises(EkmValueError, match="Meter_Address"):
        codec.encode_block(samples.v4_a(address="123"))


# --- setters ----------------------------------------------------------------------------


def test_setter_frames() -> None:
    cases = [
        (codec.relay_write(2, 0, 9999), "0082", "09999"),
        (codec.relay_write(EkmRelay.RELAY_1, EkmRelayState.CLOSED), "0081", "10000"),
        (codec.password_write("12345678"), "0020", "12345678"),
        (codec.max_demand_reset_now_write(), "0040", "000000"),
        (codec.max_demand_period_write(EkmMaxDemandPeriod.MINUTES_60), "0050", "3"),
        (codec.max_demand_reset_write(EkmMaxDemandReset.HOURLY), "00D5", "4"),
        (codec.time_write(WHEN), "0060", "24052904041127"),
        (codec.ct_ratio_write(200), "00D0", "0200"),
        (codec.lcd_items_write([1, 2, 51]), "00D2", "010251" + "00" * 37),
        (codec.zero_resettable_write(), "00D3", ""),
        (codec.pulse_output_ratio_write(1600), "00D4", "1600"),
        (codec.pulse_input_ratio_write(3, 25), "00A2", "0025"),
    ]
    decoder = codec.EkmRequestDecoder()
    for write, register, data in cases:
        assert (write.register, write.data) == (register, data)
        frame = write.encode()
        body = frame[1:-2]
        assert frame[-2:] == ekm_crc(body).to_bytes(2, "big")
        decoder.feed(frame)
        assert decoder.next_event() == codec.EkmCommandFrame("W1", register, data)


def test_setter_frames_match_ekmmeters_hex_builders() -> None:
    # ekmmeters builds hex strings by hand; rebuild two of them the same way as a cross-check.
    req = "015731023030443028" + b"0200".hex() + "2903"
    req += ekmmeters.Meter.calc_crc16(bytes.fromhex(req[2:]).decode())
    assert codec.ct_ratio_write(200).encode() == bytes.fromhex(req)
    req = "01573102303041" + b"1".hex() + "28" + b"0025".hex() + "2903"
    req += ekmmeters.Meter.calc_crc16(bytes.fromhex(req[2:]).decode())
    assert codec.pulse_input_ratio_write(2, 25).encode() == bytes.fromhex(req)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: codec.relay_write(3, 1, 0), "relay"),
        (lambda: codec.relay_write(1, 2, 0), "state"),
        (lambda: codec.relay_write(1, 1, 10000), "0..9999"),
        (lambda: codec.relay_write(1, 1, -1), "0..9999"),
        (lambda: codec.password_write("1234567"), "8 ASCII digits"),
        (lambda: codec.password_write("1234567a"), "8 ASCII digits"),
        (lambda: codec.encode_password("\uff11" * 8), "8 ASCII digits"),
        (lambda: codec.max_demand_period_write(4), "max demand period"),
        (lambda: codec.max_demand_reset_write(5), "reset interval"),
        (lambda: codec.time_write(WHEN.replace(year=2100)), "2000..2099"),
        (lambda: codec.ct_ratio_write(300), "CT ratio"),
        (lambda: codec.lcd_items_write([]), "1..40"),
        (lambda: codec.lcd_items_write([1] * 41), "1..40"),
        (lambda: codec.lcd_items_write([46]), "46"),
        (lambda: codec.pulse_output_ratio_write(3), "pulse output"),
        (lambda: codec.pulse_input_ratio_write(4, 1), "line"),
        (lambda: codec.pulse_input_ratio_write(1, 0), "1..9999"),
        (lambda: codec.encode_write("00D", "1"), "register"),
        (lambda: codec.encode_write("00D0", "(1)"), "parentheses"),
    ],
)
def test_setter_validation(make: Any, match: str) -> None:
    with pytest.raises(EkmValueError, match=match):
        make()


# --- client-side stream decoder ---------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 255, 300])
def test_decoder_any_chunking_with_leading_noise(chunk: int) -> None:
    decoder = codec.EkmDecoder()
    decoder.expect_block()
    stream = b"\x00\x7f" + codec.add_even_parity(GOOD_A)
    events = []
    for i in range(0, len(stream), chunk):
        decoder.feed(stream[i : i + chunk])
        event = decoder.next_event()
        if event is not None:
            events.append(event)
    assert events == [codec.EkmBlockFrame(GOOD_A)]
    assert decoder.skipped == 2


def test_decoder_ack_and_nak() -> None:
    decoder = codec.EkmDecoder()
    assert decoder.next_event() is None
    decoder.expect_ack()
    assert decoder.next_event() is None
    decoder.feed(b"\x86")  # ACK with its (odd) parity bit set
    assert decoder.next_event() == codec.EkmAck()
    decoder.expect_ack()
    decoder.feed(b"\x15")
    with pytest.raises(EkmProtocolError, match="0x15"):
        decoder.next_event()


def test_decoder_truncated_and_bad_crc() -> None:
    decoder = codec.EkmDecoder()
    decoder.expect_block()
    decoder.feed(GOOD_A[:200])
    assert decoder.next_event() is None
    assert decoder.buffered == 200
    decoder.feed(b"\x02" * 55)
    with pytest.raises(EkmCrcError):
        decoder.next_event()
    decoder.expect_block()
    decoder.feed(b"garbage without stx")
    assert decoder.next_event() is None
    assert decoder.buffered == 0


# --- meter-side decoder -------------------------------------------------------------------


def test_request_decoder() -> None:
    decoder = codec.EkmRequestDecoder()
    stream = (
        b"\xff"
        + codec.encode_read_request(1, EkmBlock.V3)
        + codec.encode_read_request(2, EkmBlock.V4_A)
        + codec.encode_read_request(3, EkmBlock.V4_B)
        + codec.encode_password("12345678")
        + codec.END_SESSION
    )
    events = []
    for b in codec.add_even_parity(stream):
        decoder.feed(bytes((b,)))
        event = decoder.next_event()
        if event is not None:
            events.append(event)
    assert events == [
        codec.EkmReadRequest("000000000001", EkmBlock.V3),
        codec.EkmReadRequest("000000000002", EkmBlock.V4_A),
        codec.EkmReadRequest("000000000003", EkmBlock.V4_B),
        codec.EkmCommandFrame("P1", "", "12345678"),
        codec.EkmEndSession(),
    ]


@pytest.mark.parametrize(
    ("stream", "match"),
    [
        (b"/x000000000001!\r\n", "malformed read request"),
        (b"/?0001!\r\n", "12-digit address"),
        (b"/?00000000000102!\r\n", "12-digit address"),
        (b"/?" + b"1" * 40, "without"),
        (b"\x01W1\x020081(1)\x03AA", "CRC"),
        (b"\x01" + b"x" * 200, "without ETX"),
    ],
)
def test_request_decoder_errors(stream: bytes, match: str) -> None:
    decoder = codec.EkmRequestDecoder()
    decoder.feed(stream)
    with pytest.raises(EkmProtocolError, match=match):
        decoder.next_event()


def test_request_decoder_malformed_command_body() -> None:
    for body in (b"X1\x02(1)\x03", b"W1\x020081 1 \x03", b"W1x0081(1)\x03"):
        decoder = codec.EkmRequestDecoder()
        decoder.feed(b"\x01" + body + codec.crc16_bytes(body))
        with pytest.raises(EkmError):
            decoder.next_event()


def test_wire_seconds() -> None:
    assert codec.wire_seconds(255) == pytest.approx(0.265625)
    assert codec.wire_seconds(19, 19200) == pytest.approx(19 * 10 / 19200)


def test_model_fields_cover_layouts() -> None:
    for block, layout in codec.LAYOUTS.items():
        assert {spec.attr for spec in layout} == codec.MODEL_FIELDS[block]
    assert EkmV4ReadingA.__slots__


def test_power_factor_kinds() -> None:
    assert codec.power_factor(0.5, EkmPowerFactorKind.LAG).raw == "L050"
