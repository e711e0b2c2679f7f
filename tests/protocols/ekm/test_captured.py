"""Real v4 A frames captured from meters (EKM forum hex logs) decoded and cross-checked."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.models import EkmBlock, EkmPowerFactorKind

from . import samples

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def frame(name: str) -> bytes:
    return bytes.fromhex((FIXTURES / name).read_text())


# forum.ekmmetering.com t=3303 (2014, Omnimeter Pulse v.4 over an iSerial bridge, port 50000)
T3303 = "v4_a_000300000943_forum_t3303.hex"
# forum.ekmmetering.com t=5181 (2018, Omnimeter v.4; EKM Dash printed its own decode)
T5181 = "v4_a_000350003229_forum_t5181.hex"


def test_forum_request_bytes() -> None:
    # Both posts show the request the meter answered.
    assert codec.encode_read_request("000300000943", EkmBlock.V4_A).hex(" ").upper() == (
        "2F 3F 30 30 30 33 30 30 30 30 30 39 34 33 30 30 21 0D 0A"
    )
    assert codec.encode_read_request(350003229, EkmBlock.V4_A).hex(" ").upper() == (
        "2F 3F 30 30 30 33 35 30 30 30 33 32 32 39 30 30 21 0D 0A"
    )


def test_t5181_matches_ekm_dash_decode() -> None:
    a = codec.decode_v4_a(frame(T5181), address=350003229)
    # Values EKM Dash printed next to the hex log.
    assert a.model == "1024"
    assert a.firmware.upper() == "1D"
    assert a.energy_total_wh == 0
    assert a.voltage_ln_1_v == 118.4
    assert a.power_factor_ln_1.raw == "L099"
    assert a.power_factor_ln_1.kind is EkmPowerFactorKind.LAG
    assert a.power_factor_ln_1.power_factor == 0.99
    assert a.power_factor_ln_2.raw == "C000"
    assert a.frequency_hz == 60.02
    assert a.pulse_count_1 == 4
    assert (a.state_inputs, a.state_watts_dir, a.state_out, a.kwh_scale) == (0, 1, 1, 2)
    assert a.meter_time.raw == "18091103051056"
    assert a.meter_time.to_datetime() == dt.datetime(2018, 9, 11, 5, 10, 56)  # noqa: DTZ001
    assert (a.relay_1_closed, a.relay_2_closed) == (False, False)


def test_t3303_decodes() -> None:
    a = codec.decode_v4_a(frame(T3303), address="000300000943")
    assert a.firmware == "15"
    assert a.kwh_scale == 2
    assert a.energy_total_wh == pytest.approx(356_700)  # "00035670" at 2 decimals
    assert a.reverse_energy_total_wh == pytest.approx(267_480)
    assert (a.voltage_ln_2_v, a.voltage_ln_3_v, a.current_ln_3_a) == (224.1, 224.1, 4.3)
    assert a.power_total_w == 970
    assert a.power_factor_ln_3.kind is EkmPowerFactorKind.NONE
    assert a.frequency_hz == 50.02
    assert a.relay_2_closed is True
    assert a.request_type == "00"
    assert a.reserved_4 == codec.BLOCK_TRAILER.hex()
    assert a.meter_time.to_datetime() == dt.datetime(2014, 3, 8, 10, 46, 2)  # noqa: DTZ001


@pytest.mark.parametrize("name", [T3303, T5181])
def test_captured_frames_against_ekmmeters_and_round_trip(name: str) -> None:
    raw = frame(name)
    a = codec.decode_v4_a(raw)
    theirs = samples.ekmmeters_parse(raw, "a")  # asserts ekmmeters' CRC check too
    assert theirs["kWh_Tot"] == pytest.approx(a.energy_total_wh / 1000)
    assert theirs["RMS_Volts_Ln_1"] == a.voltage_ln_1_v
    assert theirs["Meter_Time"] == a.meter_time.raw
    assert codec.encode_block(a) == raw


@pytest.mark.parametrize(
    ("name", "when"),
    [(T3303, dt.date(2014, 3, 8)), (T5181, dt.date(2018, 9, 11))],
)
def test_meter_weekday_convention(name: str, when: dt.date) -> None:
    a = codec.decode_v4_a(frame(name))
    assert a.meter_time.weekday == codec.meter_weekday(when)
    assert codec.meter_weekday(dt.date(2024, 5, 29)) == 4  # the seed's Wednesday
    assert codec.meter_weekday(dt.date(2011, 2, 17)) == 5  # EKM's v3 PDF Thursday
    assert codec.meter_weekday(dt.date(2024, 6, 2)) == 1  # a Sunday
