"""Sample EKM readings and an ekmmeters-based reference parser for cross-checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import ekmmeters  # type: ignore[import-untyped]

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.models import (
    EkmPowerFactorKind,
    EkmV3Reading,
    EkmV4ReadingA,
    EkmV4ReadingB,
)

ADDRESS = "000300001285"
TIME = dt.datetime(2024, 5, 29, 11, 27, 24)  # noqa: DTZ001 - meter time is naive
PF = codec.power_factor


def v4_a(**changes: Any) -> EkmV4ReadingA:
    """A v4 A reading like the seed's meter (kWh scale 1)."""
    reading = EkmV4ReadingA(
        reserved_1="02",
        model="1024",
        firmware="15",
        address=ADDRESS,
        energy_total_wh=2692300.0,
        reactive_energy_total_varh=1139000.0,
        reverse_energy_total_wh=100.0,
        energy_ln_1_wh=2692300.0,
        energy_ln_2_wh=0.0,
        energy_ln_3_wh=0.0,
        reverse_energy_ln_1_wh=100.0,
        reverse_energy_ln_2_wh=0.0,
        reverse_energy_ln_3_wh=0.0,
        resettable_energy_wh=88400.0,
        resettable_reverse_energy_wh=0.0,
        voltage_ln_1_v=123.5,
        voltage_ln_2_v=121.0,
        voltage_ln_3_v=0.0,
        current_ln_1_a=4.0,
        current_ln_2_a=1.2,
        current_ln_3_a=0.0,
        power_ln_1_w=340,
        power_ln_2_w=120,
        power_ln_3_w=0,
        power_total_w=460,
        power_factor_ln_1=PF(0.87, EkmPowerFactorKind.LEAD),
        power_factor_ln_2=PF(0.95, EkmPowerFactorKind.LAG),
        power_factor_ln_3=PF(1.0),
        reactive_power_ln_1_var=180,
        reactive_power_ln_2_var=20,
        reactive_power_ln_3_var=0,
        reactive_power_total_var=200,
        frequency_hz=60.06,
        pulse_count_1=4851608,
        pulse_count_2=0,
        pulse_count_3=7,
        state_inputs=4,
        state_watts_dir=3,
        state_out=3,
        kwh_scale=1,
        reserved_2="3030",
        meter_time=codec.meter_time(TIME),
        request_type="00",
        reserved_4=codec.BLOCK_TRAILER.hex(),
        crc16="0000",
    )
    return dataclasses.replace(reading, **changes)


def v4_b(**changes: Any) -> EkmV4ReadingB:
    """A v4 B reading of the same meter."""
    reading = EkmV4ReadingB(
        reserved_5="02",
        model="1024",
        firmware="15",
        address=ADDRESS,
        energy_tariff_1_wh=148000.0,
        energy_tariff_2_wh=481000.0,
        energy_tariff_3_wh=175000.0,
        energy_tariff_4_wh=1887300.0,
        reverse_energy_tariff_1_wh=0.0,
        reverse_energy_tariff_2_wh=100.0,
        reverse_energy_tariff_3_wh=0.0,
        reverse_energy_tariff_4_wh=0.0,
        voltage_ln_1_v=123.4,
        voltage_ln_2_v=121.0,
        voltage_ln_3_v=0.0,
        current_ln_1_a=4.1,
        current_ln_2_a=1.2,
        current_ln_3_a=0.0,
        power_ln_1_w=341,
        power_ln_2_w=120,
        power_ln_3_w=0,
        power_total_w=461,
        power_factor_ln_1=PF(0.87, EkmPowerFactorKind.LEAD),
        power_factor_ln_2=PF(0.95, EkmPowerFactorKind.LAG),
        power_factor_ln_3=PF(1.0),
        max_demand_w=1700.5,
        max_demand_period=2,
        pulse_ratio_1=1,
        pulse_ratio_2=10,
        pulse_ratio_3=100,
        ct_ratio=200,
        max_demand_reset=4,
        pulse_output_ratio=800,
        reserved_7="30" * 53,
        status_code_a="00",
        status_code_b="01",
        status_code_c="00",
        meter_time=codec.meter_time(TIME),
        request_type="01",
        reserved_9=codec.BLOCK_TRAILER.hex(),
        crc16="0000",
    )
    return dataclasses.replace(reading, **changes)


def v3(**changes: Any) -> EkmV3Reading:
    """A v3 reading."""
    reading = EkmV3Reading(
        reserved_10="02",
        model="1017",
        firmware="13",
        address="000000020870",
        energy_total_wh=1234500.0,
        energy_tariff_1_wh=1000000.0,
        energy_tariff_2_wh=200000.0,
        energy_tariff_3_wh=34500.0,
        energy_tariff_4_wh=0.0,
        reverse_energy_total_wh=300.0,
        reverse_energy_tariff_1_wh=300.0,
        reverse_energy_tariff_2_wh=0.0,
        reverse_energy_tariff_3_wh=0.0,
        reverse_energy_tariff_4_wh=0.0,
        voltage_ln_1_v=230.1,
        voltage_ln_2_v=229.9,
        voltage_ln_3_v=231.0,
        current_ln_1_a=10.5,
        current_ln_2_a=0.3,
        current_ln_3_a=2.0,
        power_ln_1_w=2400,
        power_ln_2_w=60,
        power_ln_3_w=455,
        power_total_w=2915,
        power_factor_ln_1=PF(0.99, EkmPowerFactorKind.LAG),
        power_factor_ln_2=PF(0.5, EkmPowerFactorKind.LEAD),
        power_factor_ln_3=PF(1.0),
        max_demand_w=3100.5,
        max_demand_period=1,
        meter_time=codec.meter_time(TIME),
        ct_ratio=400,
        pulse_count_1=1,
        pulse_count_2=22,
        pulse_count_3=333,
        pulse_ratio_1=1,
        pulse_ratio_2=2,
        pulse_ratio_3=3,
        state_inputs=0,
        reserved_11="30" * 19,
        status_code="00",
        reserved_12=codec.BLOCK_TRAILER.hex(),
        crc16="0000",
    )
    return dataclasses.replace(reading, **changes)


def ekmmeters_parse(raw: bytes, block: str, kwh_scale: int = 1) -> dict[str, Any]:
    """Parse a block with EKM's own library: EKM field name -> native value."""
    if block == "v3":
        meter: Any = ekmmeters.V3Meter(ADDRESS)
        buf = meter.m_blk_a
        scale = 1
    else:
        meter = ekmmeters.V4Meter(ADDRESS)
        buf = meter.m_blk_a if block == "a" else meter.m_blk_b
        scale = ekmmeters.ScaleKWH.EmptyScale if block == "a" else kwh_scale
    contents = meter.unpackStruct(raw.decode("ascii"), buf)
    meter.convertData(contents, buf, scale)
    assert meter.crcMeterRead(raw.decode("ascii"), buf)
    return {
        name: buf[name][ekmmeters.MeterData.NativeValue]
        for name in buf
        if not buf[name][ekmmeters.MeterData.CalculatedFlag]
    }
