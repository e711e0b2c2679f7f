"""Builders of the DATA-NOTIFICATION lists HAN/P1-style meter ports push, framed and ciphered."""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt
from enum import StrEnum

from custom_components.meterlink.protocols.dlms.axdr import (
    CosemDateTime,
    DataItem,
    DataTag,
    encode_data,
    obis_from_str,
)
from custom_components.meterlink.protocols.dlms.cipher import encrypt_apdu
from custom_components.meterlink.protocols.dlms.hdlc import (
    LLC_RESPONSE,
    HdlcAddress,
    HdlcFrame,
    HdlcFrameKind,
    encode_hdlc_frame,
    segment_information,
)
from custom_components.meterlink.protocols.dlms.mbus import segment_mbus
from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
from custom_components.meterlink.protocols.dlms.push import TAG_DATA_NOTIFICATION, PushFraming


class HanList(StrEnum):
    """The list formats the simulator can push."""

    AIDON = "aidon"
    KAMSTRUP = "kamstrup"
    KAIFA = "kaifa"
    KAIFA_LIST1 = "kaifa_list1"
    LANDIS_GYR = "landis_gyr"


@dataclass(frozen=True, kw_only=True, slots=True)
class HanSample:
    """Physical values one push carries."""

    timestamp: dt.datetime = dt.datetime(2026, 1, 17, 12, 44, 40)  # noqa: DTZ001
    meter_id: str = "7359992890941742"
    meter_type: str = "6515"
    power_import_w: int = 1830
    power_export_w: int = 0
    reactive_import_var: int = 28
    reactive_export_var: int = 139
    current_a: tuple[float, float, float] = (5.21, 3.12, 4.05)
    voltage_v: tuple[float, float, float] = (230.1, 229.4, 231.7)
    energy_import_wh: int = 12345670
    energy_export_wh: int = 20
    reactive_energy_import_varh: int = 110
    reactive_energy_export_varh: int = 4560
    extra: dict[str, int] = field(default_factory=dict)


def _os(raw: bytes) -> DataItem:
    return DataItem(tag=DataTag.OCTET_STRING, value=raw)


def _obis(code: str) -> DataItem:
    return _os(obis_from_str(code))


def _u32(value: int) -> DataItem:
    return DataItem(tag=DataTag.DOUBLE_LONG_UNSIGNED, value=value)


def _u16(value: int) -> DataItem:
    return DataItem(tag=DataTag.LONG_UNSIGNED, value=value)


def _vis(text: str) -> DataItem:
    return DataItem(tag=DataTag.VISIBLE_STRING, value=text)


def _su(scaler: int, unit: int) -> DataItem:
    return DataItem(
        tag=DataTag.STRUCTURE,
        value=(DataItem(tag=DataTag.INTEGER, value=scaler), DataItem(tag=DataTag.ENUM, value=unit)),
    )


def _struct(*items: DataItem) -> DataItem:
    return DataItem(tag=DataTag.STRUCTURE, value=items)


def _clock(when: dt.datetime) -> DataItem:
    return _os(CosemDateTime.from_datetime(when, deviation_min=-60).to_bytes())


_PHASE_C = ((31, 32), (51, 52), (71, 72))


def aidon_body(sample: HanSample) -> DataItem:
    """AIDON_V0001: array of structures {OBIS, value[, {scaler, unit}]}."""
    items = [
        _struct(_obis("1.1.0.2.129.255"), _vis("AIDON_V0001")),
        _struct(_obis("0.0.96.1.0.255"), _vis(sample.meter_id)),
        _struct(_obis("0.0.96.1.7.255"), _vis(sample.meter_type)),
        _struct(_obis("1.0.1.7.0.255"), _u32(sample.power_import_w), _su(0, 27)),
        _struct(_obis("1.0.2.7.0.255"), _u32(sample.power_export_w), _su(0, 27)),
        _struct(_obis("1.0.3.7.0.255"), _u32(sample.reactive_import_var), _su(0, 29)),
        _struct(_obis("1.0.4.7.0.255"), _u32(sample.reactive_export_var), _su(0, 29)),
    ]
    for (current_c, _), amps in zip(_PHASE_C, sample.current_a, strict=True):
        raw = DataItem(tag=DataTag.LONG, value=round(amps * 10))
        items.append(_struct(_obis(f"1.0.{current_c}.7.0.255"), raw, _su(-1, 33)))
    for (_, voltage_c), volts in zip(_PHASE_C, sample.voltage_v, strict=True):
        items.append(
            _struct(_obis(f"1.0.{voltage_c}.7.0.255"), _u16(round(volts * 10)), _su(-1, 35))
        )
    items += [
        _struct(_obis("0.0.1.0.0.255"), _clock(sample.timestamp)),
        _struct(_obis("1.0.1.8.0.255"), _u32(sample.energy_import_wh // 10), _su(1, 30)),
        _struct(_obis("1.0.2.8.0.255"), _u32(sample.energy_export_wh // 10), _su(1, 30)),
        _struct(_obis("1.0.3.8.0.255"), _u32(sample.reactive_energy_import_varh // 10), _su(1, 32)),
        _struct(_obis("1.0.4.8.0.255"), _u32(sample.reactive_energy_export_varh // 10), _su(1, 32)),
    ]
    return DataItem(tag=DataTag.ARRAY, value=tuple(items))


def kamstrup_body(sample: HanSample) -> DataItem:
    """Kamstrup_V0001: structure of the list id then OBIS/value pairs, no scaler/unit."""
    items = [
        _vis("Kamstrup_V0001"),
        _obis("1.1.0.0.5.255"),
        _vis(sample.meter_id),
        _obis("1.1.96.1.1.255"),
        _vis(sample.meter_type),
        _obis("1.1.1.7.0.255"),
        _u32(sample.power_import_w),
        _obis("1.1.2.7.0.255"),
        _u32(sample.power_export_w),
        _obis("1.1.3.7.0.255"),
        _u32(sample.reactive_import_var),
        _obis("1.1.4.7.0.255"),
        _u32(sample.reactive_export_var),
    ]
    for (current_c, _), amps in zip(_PHASE_C, sample.current_a, strict=True):
        items += [_obis(f"1.1.{current_c}.7.0.255"), _u32(round(amps * 100))]
    for (_, voltage_c), volts in zip(_PHASE_C, sample.voltage_v, strict=True):
        items += [_obis(f"1.1.{voltage_c}.7.0.255"), _u16(round(volts))]
    items += [
        _obis("0.1.1.0.0.255"),
        _clock(sample.timestamp),
        _obis("1.1.1.8.0.255"),
        _u32(sample.energy_import_wh // 10),
        _obis("1.1.2.8.0.255"),
        _u32(sample.energy_export_wh // 10),
        _obis("1.1.3.8.0.255"),
        _u32(sample.reactive_energy_import_varh // 10),
        _obis("1.1.4.8.0.255"),
        _u32(sample.reactive_energy_export_varh // 10),
    ]
    return DataItem(tag=DataTag.STRUCTURE, value=tuple(items))


def kaifa_body(sample: HanSample) -> DataItem:
    """KFM_001 list 3 (three-phase): positional values, no OBIS codes."""
    items = [
        _os(b"KFM_001"),
        _os(sample.meter_id.encode()),
        _os(sample.meter_type.encode()),
        _u32(sample.power_import_w),
        _u32(sample.power_export_w),
        _u32(sample.reactive_import_var),
        _u32(sample.reactive_export_var),
        *(_u32(round(amps * 1000)) for amps in sample.current_a),
        *(_u32(round(volts * 10)) for volts in sample.voltage_v),
        _clock(sample.timestamp),
        _u32(sample.energy_import_wh),
        _u32(sample.energy_export_wh),
        _u32(sample.reactive_energy_import_varh),
        _u32(sample.reactive_energy_export_varh),
    ]
    return DataItem(tag=DataTag.STRUCTURE, value=tuple(items))


def kaifa_list1_body(sample: HanSample) -> DataItem:
    """KFM_001 list 1: a structure holding only the import power."""
    return DataItem(tag=DataTag.STRUCTURE, value=(_u32(sample.power_import_w),))


def landis_gyr_body(sample: HanSample) -> DataItem:
    """Flat OBIS, value, {scaler, unit} triples as Austrian/Swiss M-Bus HAN ports send them."""
    items = [_obis("0.0.1.0.0.255"), _clock(sample.timestamp)]
    for (_, voltage_c), volts in zip(_PHASE_C, sample.voltage_v, strict=True):
        items += [_obis(f"1.0.{voltage_c}.7.0.255"), _u16(round(volts * 10)), _su(-1, 35)]
    for (current_c, _), amps in zip(_PHASE_C, sample.current_a, strict=True):
        items += [_obis(f"1.0.{current_c}.7.0.255"), _u16(round(amps * 100)), _su(-2, 33)]
    items += [
        _obis("1.0.1.7.0.255"),
        _u32(sample.power_import_w),
        _su(0, 27),
        _obis("1.0.2.7.0.255"),
        _u32(sample.power_export_w),
        _su(0, 27),
        _obis("1.0.1.8.0.255"),
        _u32(sample.energy_import_wh),
        _su(0, 30),
        _obis("1.0.2.8.0.255"),
        _u32(sample.energy_export_wh),
        _su(0, 30),
        _obis("0.0.96.1.0.255"),
        _os(sample.meter_id.encode()),
    ]
    return DataItem(tag=DataTag.STRUCTURE, value=tuple(items))


_BODIES = {
    HanList.AIDON: aidon_body,
    HanList.KAMSTRUP: kamstrup_body,
    HanList.KAIFA: kaifa_body,
    HanList.KAIFA_LIST1: kaifa_list1_body,
    HanList.LANDIS_GYR: landis_gyr_body,
}


def notification_apdu(
    han_list: HanList, sample: HanSample, *, invoke_id: int = 0x40000000
) -> bytes:
    """Return the DATA-NOTIFICATION APDU of ``han_list`` carrying ``sample``."""
    body = encode_data(_BODIES[han_list](sample))
    head = bytes((TAG_DATA_NOTIFICATION,)) + invoke_id.to_bytes(4, "big")
    stamp = CosemDateTime.from_datetime(sample.timestamp, deviation_min=-60).to_bytes()
    if han_list is HanList.KAMSTRUP:
        date_time = b"\x09\x0c" + stamp  # Kamstrup sends the date-time as tagged Data
    elif han_list is HanList.AIDON:
        date_time = b"\x00"
    else:
        date_time = b"\x0c" + stamp
    return head + date_time + body


@dataclass(frozen=True, kw_only=True, slots=True)
class PushSecurity:
    """Ciphering settings of a push port."""

    security: DlmsSecurity = DlmsSecurity.NONE
    system_title: bytes = b"KFM\x00\x00\x00\x00\x01"
    block_cipher_key: bytes | None = None
    authentication_key: bytes | None = None


def protect(apdu: bytes, security: PushSecurity, invocation_counter: int) -> bytes:
    """Cipher ``apdu`` in a general-glo-ciphering APDU unless security is NONE."""
    if security.security is DlmsSecurity.NONE:
        return apdu
    return encrypt_apdu(
        apdu,
        security=security.security,
        system_title=security.system_title,
        invocation_counter=invocation_counter,
        block_cipher_key=security.block_cipher_key,
        authentication_key=security.authentication_key,
    )


def frame_push(apdu: bytes, framing: PushFraming, *, max_info: int = 512) -> list[bytes]:
    """Frame an APDU as HDLC UI frames (with LLC, segmented) or M-Bus long frames."""
    if framing is PushFraming.MBUS:
        return segment_mbus(apdu)
    frames = []
    for chunk, segmented in segment_information(LLC_RESPONSE + apdu, max_info=max_info):
        frame = HdlcFrame(
            destination=HdlcAddress(value=0x10),
            source=HdlcAddress.server(1, 0x11),
            kind=HdlcFrameKind.UI,
            segmented=segmented,
            information=chunk,
        )
        frames.append(encode_hdlc_frame(frame))
    return frames
