"""Sans-I/O codec for EKM Omnimeter v3/v4: request and command frames, 255-byte blocks, CRC."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, fields
from enum import StrEnum
import functools
import struct
from typing import TYPE_CHECKING, Any, Final

from .errors import (
    EkmAddressMismatchError,
    EkmCrcError,
    EkmProtocolError,
    EkmValueError,
)
from .models import (
    CT_RATIOS,
    LCD_ITEMS,
    PULSE_OUTPUT_RATIOS,
    EkmBlock,
    EkmBlockReading,
    EkmMaxDemandPeriod,
    EkmMaxDemandReset,
    EkmMeterTime,
    EkmPowerFactor,
    EkmPowerFactorKind,
    EkmRelay,
    EkmRelayState,
    EkmV3Reading,
    EkmV4ReadingA,
    EkmV4ReadingB,
    EkmVersion,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    import datetime as dt

# Framing bytes (fact sheet "Abbreviations"; ekmmeters request/command builders).
SOH: Final = 0x01
STX: Final = 0x02
ETX: Final = 0x03
ACK: Final = 0x06
NAK: Final = 0x15  # a meter refusing a write (what it sends instead of ACK)
# Fixed end-of-session frame SOH "B0" ETX 0x75 (fact sheet §2, ekmmeters serialPostEnd).
END_SESSION: Final = b"\x01B0\x03u"
# Every read answer is 255 bytes (fact sheet §2, ekmmeters unpackStruct).
BLOCK_LENGTH: Final = 255
# The 4 bytes before the CRC of a read block: "!" CR LF ETX (fact sheet §3b).
BLOCK_TRAILER: Final = b"!\r\n\x03"
# Default meter password (fact sheet §5.1).
DEFAULT_PASSWORD: Final = "00000000"  # noqa: S105 - EKM factory default
ADDRESS_LENGTH: Final = 12
# Answered by a meter that is alone on the bus, with its real address (EKM, forum t=5).
ANY_SINGLE_METER: Final = "999999999999"
# Longest frame a meter is ever sent: LCD write = 3 + 4 + 82 + 1 + 2 (fact sheet §5.2).
MAX_COMMAND_LENGTH: Final = 128
MAX_RELAY_SECONDS: Final = 9999
MAX_PULSE_INPUT_RATIO: Final = 9999
MAX_LCD_ITEMS: Final = 40


# --- CRC-16 (fact sheet §3) ----------------------------------------------------------------


def _make_crc_table() -> tuple[int, ...]:
    """Build the reflected-0xA001 (CRC-16/MODBUS) lookup table."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE: Final = _make_crc_table()


@functools.cache
def _word_table() -> array[int]:
    """Table that advances the CRC by two bytes at once (x = crc ^ little-endian word).

    Built on first use (about 50 ms, 128 KiB) rather than at import.
    """
    table = _CRC_TABLE
    words = array("H", bytes(2 * 65536))
    for x in range(65536):
        y = (x >> 8) ^ table[x & 0xFF]
        words[x] = (y >> 8) ^ table[y & 0xFF]
    return words


def crc16(data: bytes) -> int:
    """Return the EKM CRC of ``data``: Modbus CRC, bytes swapped, masked with 0x7F7F."""
    crc = 0xFFFF
    words = _word_table()
    for word in struct.unpack_from(f"<{len(data) // 2}H", data):
        crc = words[crc ^ word]
    if len(data) & 1:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ data[-1]) & 0xFF]
    return ((crc << 8) | (crc >> 8)) & 0x7F7F


def crc16_bytes(data: bytes) -> bytes:
    """Return the two CRC bytes as they go on the wire (high byte of the EKM value first)."""
    return crc16(data).to_bytes(2, "big")


# --- 7E1 over 8N1 (fact sheet §7 "Parity") -------------------------------------------------

_STRIP_PARITY: Final = bytes(b & 0x7F for b in range(256))
_ADD_EVEN_PARITY: Final = bytes(
    (b & 0x7F) | (0x80 if (b & 0x7F).bit_count() % 2 else 0) for b in range(256)
)


def strip_parity(data: bytes) -> bytes:
    """Clear bit 7 of every byte (a 7E1 character read by an 8N1 port carries its parity there)."""
    return data.translate(_STRIP_PARITY)


def add_even_parity(data: bytes) -> bytes:
    """Set bit 7 as the even-parity bit, so an 8N1 port sends what a 7E1 port would."""
    return data.translate(_ADD_EVEN_PARITY)


# --- Addresses and versions (seed "API examples"; fact sheet §2) ----------------------------


def normalize_address(address: int | str) -> str:
    """Return the 12-digit address for 30001, "30001" or "000000030001"; raise otherwise."""
    if isinstance(address, bool) or not isinstance(address, int | str):
        msg = f"meter address must be an int or a string of digits, not {type(address).__name__}"
        raise EkmValueError(msg)
    if isinstance(address, int):
        if address < 0:
            msg = f"meter address {address} is negative"
            raise EkmValueError(msg)
        text = str(address)
    else:
        text = address.strip()
    if not text or not (text.isascii() and text.isdigit()):
        msg = f"meter address {address!r} is not made of digits 0-9"
        raise EkmValueError(msg)
    if len(text) > ADDRESS_LENGTH:
        msg = f"meter address {address!r} has {len(text)} digits; at most 12 are allowed"
        raise EkmValueError(msg)
    return text.zfill(ADDRESS_LENGTH)


def normalize_version(version: int | str | EkmVersion) -> EkmVersion:
    """Return the meter version for 4, "4", "v4" or "V4" (and 3 likewise); raise otherwise."""
    if isinstance(version, bool):
        msg = "meter version must be 3 or 4, not a bool"
        raise EkmValueError(msg)
    number: int | None = None
    if isinstance(version, int):
        number = version
    elif isinstance(version, str):  # pragma: no branch - anything else is rejected below
        text = version.strip().lower().removeprefix("v")
        number = int(text) if text in {"3", "4"} else None
    if number not in (3, 4):
        msg = f"meter version {version!r} is not one of 3, 4, '3', '4', 'v3', 'v4'"
        raise EkmValueError(msg)
    return EkmVersion(number)


def blocks_for(version: EkmVersion, *, include_b: bool = True) -> tuple[EkmBlock, ...]:
    """Return the blocks one full read of a meter of this version needs."""
    if version is EkmVersion.V3:
        return (EkmBlock.V3,)
    return (EkmBlock.V4_A, EkmBlock.V4_B) if include_b else (EkmBlock.V4_A,)


# --- Read requests (fact sheet §2) ---------------------------------------------------------

_REQUEST_SUFFIX: Final = {EkmBlock.V3: b"", EkmBlock.V4_A: b"00", EkmBlock.V4_B: b"01"}
# Request_Type field contents that must come back (fact sheet §2).
_REQUEST_TYPE: Final = {EkmBlock.V4_A: "00", EkmBlock.V4_B: "01"}


def encode_read_request(address: int | str, block: EkmBlock) -> bytes:
    """Return ``/?<addr12>[00|01]!<CR><LF>`` for a v3, v4 A or v4 B read."""
    addr = normalize_address(address)
    return b"/?" + addr.encode() + _REQUEST_SUFFIX[block] + b"!\r\n"


# --- Command session frames (fact sheet §5) ------------------------------------------------


def encode_command_frame(command: bytes, payload: bytes) -> bytes:
    """Return SOH + command + STX + payload + ETX + CRC (CRC over everything after SOH)."""
    body = command + bytes((STX,)) + payload + bytes((ETX,))
    return bytes((SOH,)) + body + crc16_bytes(body)


def _check_password(password: str, what: str) -> str:
    """Return ``password`` if it is 8 ASCII digits; raise otherwise."""
    if not (isinstance(password, str) and len(password) == 8 and password.isascii()):  # noqa: PLR2004
        msg = f"{what} must be 8 ASCII digits"
        raise EkmValueError(msg)
    if not password.isdigit():
        msg = f"{what} must be 8 ASCII digits"
        raise EkmValueError(msg)
    return password


def encode_password(password: str = DEFAULT_PASSWORD) -> bytes:
    """Return the password frame ``P1 STX (pppppppp) ETX`` (ekmmeters serialCmdPwdAuth)."""
    pw = _check_password(password, "password")
    return encode_command_frame(b"P1", b"(" + pw.encode() + b")")


def encode_write(register: str, data: str) -> bytes:
    """Return a write frame ``W1 STX <register>(<data>) ETX`` (fact sheet §5.1 step 3)."""
    if len(register) != 4 or not register.isascii() or not register.isalnum():  # noqa: PLR2004
        msg = f"register id {register!r} must be 4 ASCII letters or digits"
        raise EkmValueError(msg)
    if not data.isascii() or "(" in data or ")" in data:
        msg = f"write data {data!r} must be ASCII without parentheses"
        raise EkmValueError(msg)
    return encode_command_frame(b"W1", register.encode() + b"(" + data.encode() + b")")


@dataclass(frozen=True, kw_only=True, slots=True)
class EkmWrite:
    """One settings/relay write: register id and data (fact sheet §5.2)."""

    register: str
    data: str
    v4_only: bool = False

    def encode(self) -> bytes:
        """Return the wire frame of this write."""
        return encode_write(self.register, self.data)


def relay_write(relay: EkmRelay | int, state: EkmRelayState | int, seconds: int = 0) -> EkmWrite:
    """Relay open/close, held ``seconds`` (0 = indefinitely) then reverting (register 0081/0082)."""
    try:
        relay = EkmRelay(relay)
        state = EkmRelayState(state)
    except ValueError as err:
        msg = f"relay {relay!r} / state {state!r} invalid: relay is 1 or 2, state 0 or 1"
        raise EkmValueError(msg) from err
    if not 0 <= seconds <= MAX_RELAY_SECONDS or isinstance(seconds, bool):
        msg = f"relay hold of {seconds} s is outside 0..9999"
        raise EkmValueError(msg)
    return EkmWrite(register=f"008{relay.value}", data=f"{state.value}{seconds:04d}", v4_only=True)


def password_write(new_password: str) -> EkmWrite:
    """Change the meter password (register 0020)."""
    return EkmWrite(register="0020", data=_check_password(new_password, "new password"))


def max_demand_reset_now_write() -> EkmWrite:
    """Reset max demand now (register 0040, data 000000)."""
    return EkmWrite(register="0040", data="000000")


def max_demand_period_write(period: EkmMaxDemandPeriod | int) -> EkmWrite:
    """Set the max-demand period 1/2/3 = 15/30/60 min (register 0050)."""
    try:
        period = EkmMaxDemandPeriod(period)
    except ValueError as err:
        msg = f"max demand period {period!r} must be 1 (15 min), 2 (30 min) or 3 (60 min)"
        raise EkmValueError(msg) from err
    return EkmWrite(register="0050", data=str(period.value))


def max_demand_reset_write(interval: EkmMaxDemandReset | int) -> EkmWrite:
    """Set the v4 max-demand auto-reset interval 0..4 (register 00D5)."""
    try:
        interval = EkmMaxDemandReset(interval)
    except ValueError as err:
        msg = f"max demand reset interval {interval!r} must be 0..4"
        raise EkmValueError(msg) from err
    return EkmWrite(register="00D5", data=str(interval.value), v4_only=True)


def meter_weekday(when: dt.date) -> int:
    """Weekday digit of ``Meter_Time``: 1 = Sunday .. 7 = Saturday.

    Every real meter time seen agrees: 2014-03-08 (Sat) reads WW=07 (forum t=3303 capture),
    2018-09-11 (Tue) WW=03 (forum t=5181 capture), 2024-05-29 (Wed) WW=04 (seed), and EKM's
    v3 parsing PDF shows Thursday 2011-02-17 as WW=05 (forum t=3752). ekmmeters ``setTime``
    writes ISO weekdays (1 = Monday) instead, one day off.
    """
    return when.isoweekday() % 7 + 1


def time_write(when: dt.datetime) -> EkmWrite:
    """Set the meter clock to ``when`` (register 0060, ``YYMMDDWWhhmmss``)."""
    if not 2000 <= when.year <= 2099:  # noqa: PLR2004
        msg = f"meter time year {when.year} is outside 2000..2099"
        raise EkmValueError(msg)
    text = (
        f"{when.year % 100:02d}{when.month:02d}{when.day:02d}{meter_weekday(when):02d}"
        f"{when.hour:02d}{when.minute:02d}{when.second:02d}"
    )
    return EkmWrite(register="0060", data=text)


def ct_ratio_write(ratio: int) -> EkmWrite:
    """Set the CT ratio (register 00D0); only EKM's listed ratios are accepted."""
    if ratio not in CT_RATIOS or isinstance(ratio, bool):
        msg = f"CT ratio {ratio!r} is not one of {sorted(CT_RATIOS)}"
        raise EkmValueError(msg)
    return EkmWrite(register="00D0", data=f"{ratio:04d}")


def lcd_items_write(items: Sequence[int]) -> EkmWrite:
    """Set the v4 LCD rotation (register 00D2): 1..40 item codes, unused slots 00."""
    if not 1 <= len(items) <= MAX_LCD_ITEMS:
        msg = f"LCD item list has {len(items)} items; 1..40 are allowed"
        raise EkmValueError(msg)
    bad = [item for item in items if item not in LCD_ITEMS or isinstance(item, bool)]
    if bad:
        msg = f"LCD item codes {bad} are not EKM LCD items"
        raise EkmValueError(msg)
    data = "".join(f"{item:02d}" for item in items) + "00" * (MAX_LCD_ITEMS - len(items))
    return EkmWrite(register="00D2", data=data, v4_only=True)


def zero_resettable_write() -> EkmWrite:
    """Zero the v4 resettable kWh registers (register 00D3, empty data)."""
    return EkmWrite(register="00D3", data="", v4_only=True)


def pulse_output_ratio_write(ratio: int) -> EkmWrite:
    """Set the v4 pulse output ratio (register 00D4); only EKM's listed ratios are accepted."""
    if ratio not in PULSE_OUTPUT_RATIOS or isinstance(ratio, bool):
        msg = f"pulse output ratio {ratio!r} is not one of {sorted(PULSE_OUTPUT_RATIOS)}"
        raise EkmValueError(msg)
    return EkmWrite(register="00D4", data=f"{ratio:04d}", v4_only=True)


def pulse_input_ratio_write(line: int, ratio: int) -> EkmWrite:
    """Set a v4 pulse input ratio, line 1..3 (register 00A0..00A2), ratio 1..9999."""
    if line not in (1, 2, 3) or isinstance(line, bool):
        msg = f"pulse input line {line!r} must be 1, 2 or 3"
        raise EkmValueError(msg)
    if not 1 <= ratio <= MAX_PULSE_INPUT_RATIO or isinstance(ratio, bool):
        msg = f"pulse input ratio {ratio!r} for line {line} is outside 1..9999"
        raise EkmValueError(msg)
    return EkmWrite(register=f"00A{line - 1}", data=f"{ratio:04d}", v4_only=True)


# --- 255-byte blocks (fact sheet §4) -------------------------------------------------------


class Kind(StrEnum):
    """How one field's bytes become a value."""

    HEX = "hex"  # raw bytes as a hex string
    STR = "str"  # ASCII text
    INT = "int"  # ASCII decimal integer
    ENERGY = "energy"  # ASCII digits / 10**kWh_scale kWh, stored as Wh
    SCALED = "scaled"  # ASCII digits / 10**kWh_scale (v3 max demand)
    DIV10 = "div10"
    DIV100 = "div100"
    PF = "pf"  # power factor: L/C/space + 3 digits
    TIME = "time"  # YYMMDDWWhhmmss


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a block: EKM name, model attribute, offset, length and kind."""

    wire: str
    attr: str
    offset: int
    length: int
    kind: Kind


def _layout(rows: Iterable[tuple[str, str, int, Kind]]) -> tuple[FieldSpec, ...]:
    """Turn (name, attr, length, kind) rows into specs with offsets; they must cover 255 bytes."""
    specs: list[FieldSpec] = []
    offset = 0
    for wire, attr, length, kind in rows:
        specs.append(FieldSpec(wire, attr, offset, length, kind))
        offset += length
    if offset != BLOCK_LENGTH:  # pragma: no cover - checked at import
        msg = f"layout covers {offset} bytes, not 255"
        raise AssertionError(msg)
    return tuple(specs)


_K = Kind
_TARIFFS: Final = [(f"kWh_Tariff_{n}", f"energy_tariff_{n}_wh", 8, _K.ENERGY) for n in range(1, 5)]
_REV_TARIFFS: Final = [
    (f"Rev_kWh_Tariff_{n}", f"reverse_energy_tariff_{n}_wh", 8, _K.ENERGY) for n in range(1, 5)
]
_INSTANT: Final = [
    *[(f"RMS_Volts_Ln_{n}", f"voltage_ln_{n}_v", 4, _K.DIV10) for n in (1, 2, 3)],
    *[(f"Amps_Ln_{n}", f"current_ln_{n}_a", 5, _K.DIV10) for n in (1, 2, 3)],
    *[(f"RMS_Watts_Ln_{n}", f"power_ln_{n}_w", 7, _K.INT) for n in (1, 2, 3)],
    ("RMS_Watts_Tot", "power_total_w", 7, _K.INT),
    *[(f"Cos_Theta_Ln_{n}", f"power_factor_ln_{n}", 4, _K.PF) for n in (1, 2, 3)],
]
_HEAD: Final = [
    ("Model", "model", 2, _K.HEX),
    ("Firmware", "firmware", 1, _K.HEX),
    ("Meter_Address", "address", 12, _K.STR),
]

# ekmmeters V3Meter.initWorkFormat (fact sheet §4.1).
V3_LAYOUT: Final = _layout(
    [
        ("reserved_10", "reserved_10", 1, _K.HEX),
        *_HEAD,
        ("kWh_Tot", "energy_total_wh", 8, _K.ENERGY),
        *_TARIFFS,
        ("Rev_kWh_Tot", "reverse_energy_total_wh", 8, _K.ENERGY),
        *_REV_TARIFFS,
        *_INSTANT,
        ("RMS_Watts_Max_Demand", "max_demand_w", 8, _K.SCALED),
        ("Max_Demand_Period", "max_demand_period", 1, _K.INT),
        ("Meter_Time", "meter_time", 14, _K.TIME),
        ("CT_Ratio", "ct_ratio", 4, _K.INT),
        *[(f"Pulse_Cnt_{n}", f"pulse_count_{n}", 8, _K.INT) for n in (1, 2, 3)],
        *[(f"Pulse_Ratio_{n}", f"pulse_ratio_{n}", 4, _K.INT) for n in (1, 2, 3)],
        ("State_Inputs", "state_inputs", 3, _K.INT),
        ("reserved_11", "reserved_11", 19, _K.HEX),
        ("Meter_Status_Code", "status_code", 1, _K.HEX),
        ("reserved_12", "reserved_12", 4, _K.HEX),
        ("crc16", "crc16", 2, _K.HEX),
    ]
)

# ekmmeters V4Meter.initFormatA (fact sheet §4.2).
V4_A_LAYOUT: Final = _layout(
    [
        ("reserved_1", "reserved_1", 1, _K.HEX),
        *_HEAD,
        ("kWh_Tot", "energy_total_wh", 8, _K.ENERGY),
        ("Reactive_Energy_Tot", "reactive_energy_total_varh", 8, _K.ENERGY),
        ("Rev_kWh_Tot", "reverse_energy_total_wh", 8, _K.ENERGY),
        *[(f"kWh_Ln_{n}", f"energy_ln_{n}_wh", 8, _K.ENERGY) for n in (1, 2, 3)],
        *[(f"Rev_kWh_Ln_{n}", f"reverse_energy_ln_{n}_wh", 8, _K.ENERGY) for n in (1, 2, 3)],
        ("kWh_Rst", "resettable_energy_wh", 8, _K.ENERGY),
        ("Rev_kWh_Rst", "resettable_reverse_energy_wh", 8, _K.ENERGY),
        *_INSTANT,
        *[(f"Reactive_Pwr_Ln_{n}", f"reactive_power_ln_{n}_var", 7, _K.INT) for n in (1, 2, 3)],
        ("Reactive_Pwr_Tot", "reactive_power_total_var", 7, _K.INT),
        ("Line_Freq", "frequency_hz", 4, _K.DIV100),
        *[(f"Pulse_Cnt_{n}", f"pulse_count_{n}", 8, _K.INT) for n in (1, 2, 3)],
        ("State_Inputs", "state_inputs", 1, _K.INT),
        ("State_Watts_Dir", "state_watts_dir", 1, _K.INT),
        ("State_Out", "state_out", 1, _K.INT),
        ("kWh_Scale", "kwh_scale", 1, _K.INT),
        ("reserved_2", "reserved_2", 2, _K.HEX),
        ("Meter_Time", "meter_time", 14, _K.TIME),
        ("Request_Type", "request_type", 2, _K.STR),
        ("reserved_4", "reserved_4", 4, _K.HEX),
        ("crc16", "crc16", 2, _K.HEX),
    ]
)

# ekmmeters V4Meter.initFormatB (fact sheet §4.3).
V4_B_LAYOUT: Final = _layout(
    [
        ("reserved_5", "reserved_5", 1, _K.HEX),
        *_HEAD,
        *_TARIFFS,
        *_REV_TARIFFS,
        *_INSTANT,
        ("RMS_Watts_Max_Demand", "max_demand_w", 8, _K.DIV10),
        ("Max_Demand_Period", "max_demand_period", 1, _K.INT),
        *[(f"Pulse_Ratio_{n}", f"pulse_ratio_{n}", 4, _K.INT) for n in (1, 2, 3)],
        ("CT_Ratio", "ct_ratio", 4, _K.INT),
        ("Max_Demand_Rst", "max_demand_reset", 1, _K.INT),
        ("CF_Ratio", "pulse_output_ratio", 4, _K.INT),
        ("reserved_7", "reserved_7", 53, _K.HEX),
        ("Meter_Status_Code_A", "status_code_a", 1, _K.HEX),
        ("Meter_Status_Code_B", "status_code_b", 1, _K.HEX),
        ("Meter_Status_Code_C", "status_code_c", 1, _K.HEX),
        ("Meter_Time", "meter_time", 14, _K.TIME),
        ("Request_Type", "request_type", 2, _K.STR),
        ("reserved_9", "reserved_9", 4, _K.HEX),
        ("crc16", "crc16", 2, _K.HEX),
    ]
)

LAYOUTS: Final[dict[EkmBlock, tuple[FieldSpec, ...]]] = {
    EkmBlock.V3: V3_LAYOUT,
    EkmBlock.V4_A: V4_A_LAYOUT,
    EkmBlock.V4_B: V4_B_LAYOUT,
}
_MODELS: Final[dict[EkmBlock, type[EkmV3Reading | EkmV4ReadingA | EkmV4ReadingB]]] = {
    EkmBlock.V3: EkmV3Reading,
    EkmBlock.V4_A: EkmV4ReadingA,
    EkmBlock.V4_B: EkmV4ReadingB,
}
# ekmmeters V3Meter.request passes kWh scale 1 (/10) for every v3 block (fact sheet §4).
V3_KWH_SCALE: Final = 1
_KWH_SCALE_OFFSET: Final = 230  # v4 A kWh_Scale (fact sheet §4.2)
_ADDRESS_SLICE: Final = slice(4, 16)
_REQUEST_TYPE_SLICE: Final = slice(247, 249)


def _fail(block: EkmBlock, spec: FieldSpec, raw: bytes, why: str) -> EkmProtocolError:
    """Build the error for one bad field."""
    return EkmProtocolError(
        f"{block.value} block field {spec.wire} (offset {spec.offset}) {why}: {raw!r}",
        snippet=raw,
    )


def _digits(block: EkmBlock, spec: FieldSpec, raw: bytes) -> int:
    """Return the ASCII decimal integer in ``raw`` (leading spaces allowed)."""
    text = raw.lstrip(b" ")
    if not text or not text.isdigit():
        raise _fail(block, spec, raw, "is not ASCII decimal digits")
    return int(text)


def _power_factor(block: EkmBlock, spec: FieldSpec, raw: bytes) -> EkmPowerFactor:
    """Decode a ``Cos_Theta`` field."""
    prefix = raw[:1]
    if prefix not in (b"L", b"C", b" ") or not raw[1:].isdigit():
        raise _fail(block, spec, raw, "is not L/C/space followed by 3 digits")
    return EkmPowerFactor(
        raw=raw.decode(),
        kind=EkmPowerFactorKind(prefix.decode()),
        power_factor=int(raw[1:]) / 100,
    )


def _meter_time(block: EkmBlock, spec: FieldSpec, raw: bytes) -> EkmMeterTime:
    """Decode ``Meter_Time`` (``YYMMDDWWhhmmss``)."""
    if not raw.isdigit():
        raise _fail(block, spec, raw, "is not 14 ASCII digits YYMMDDWWhhmmss")
    parts = [int(raw[i : i + 2]) for i in range(0, 14, 2)]
    return EkmMeterTime(
        raw=raw.decode(),
        year=parts[0],
        month=parts[1],
        day=parts[2],
        weekday=parts[3],
        hour=parts[4],
        minute=parts[5],
        second=parts[6],
    )


# Field kinds as small ints for the decode loop, most frequent first.
_INT, _ENERGY, _DIV10, _PF, _HEX, _STR, _TIME, _SCALED, _DIV100 = range(9)
_KIND_CODE: Final = {
    Kind.INT: _INT,
    Kind.ENERGY: _ENERGY,
    Kind.DIV10: _DIV10,
    Kind.PF: _PF,
    Kind.HEX: _HEX,
    Kind.STR: _STR,
    Kind.TIME: _TIME,
    Kind.SCALED: _SCALED,
    Kind.DIV100: _DIV100,
}
# Per block: a Struct that splits the frame into fields, and (attr, kind code, spec) per field.
_PLANS: Final = {
    block: (
        struct.Struct("".join(f"{spec.length}s" for spec in layout)),
        tuple((spec.attr, _KIND_CODE[spec.kind], spec) for spec in layout),
    )
    for block, layout in LAYOUTS.items()
}


def _decode_fields(  # noqa: C901 - one flat loop is the decode hot path
    block: EkmBlock, frame: bytes, kwh_scale: int
) -> dict[str, Any]:
    """Decode every field of ``frame`` per the block's layout."""
    values: dict[str, Any] = {}
    energy_factor = 1000 / 10**kwh_scale
    splitter, plan = _PLANS[block]
    for (attr, kind, spec), raw in zip(plan, splitter.unpack(frame), strict=True):
        value: Any
        if kind <= _DIV10:  # decimal digits
            number = int(raw) if raw.isdigit() else _digits(block, spec, raw)
            if kind == _INT:
                value = number
            elif kind == _ENERGY:
                value = number * energy_factor
            else:
                value = number / 10
        elif kind == _PF:
            value = _power_factor(block, spec, raw)
        elif kind == _HEX:
            value = raw.hex()
        elif kind == _STR:
            if not raw.isalnum():  # bytes.isalnum is ASCII-only
                raise _fail(block, spec, raw, "is not ASCII letters/digits")
            value = raw.decode()
        elif kind == _TIME:
            value = _meter_time(block, spec, raw)
        elif kind == _SCALED:
            value = _digits(block, spec, raw) / 10**kwh_scale
        else:
            value = _digits(block, spec, raw) / 100
        values[attr] = value
    return values


def check_block(frame: bytes) -> bytes:
    """Return ``frame`` with parity stripped if it is a 255-byte block with a good CRC."""
    frame = strip_parity(frame)
    if len(frame) != BLOCK_LENGTH:
        msg = f"read block is {len(frame)} bytes, not 255"
        raise EkmProtocolError(msg, snippet=frame[:32])
    if frame[0] != STX:
        msg = f"read block starts with 0x{frame[0]:02x}, not STX 0x02"
        raise EkmProtocolError(msg, snippet=frame[:32])
    expected = crc16(frame[1:-2])
    got = int.from_bytes(frame[-2:], "big")
    if expected != got:
        msg = f"read block CRC 0x{got:04x} does not match computed 0x{expected:04x}"
        raise EkmCrcError(msg, snippet=frame[-16:])
    return frame


def kwh_scale_of(frame: bytes) -> int:
    """Return the kWh_Scale digit of a v4 A block."""
    digit = frame[_KWH_SCALE_OFFSET : _KWH_SCALE_OFFSET + 1]
    if not digit.isdigit():
        msg = f"a block field kWh_Scale (offset 230) is not a digit: {digit!r}"
        raise EkmProtocolError(msg, snippet=digit)
    return int(digit)


def decode_block(
    frame: bytes,
    block: EkmBlock,
    *,
    address: int | str | None = None,
    kwh_scale: int | None = None,
) -> EkmBlockReading:
    """Decode a 255-byte answer to a read of ``block``; check CRC, address and Request_Type.

    ``kwh_scale`` is needed for a B block (the scale is only in the A block); v3 always uses 1.
    """
    frame = check_block(frame)
    if address is not None:
        want = normalize_address(address)
        got = frame[_ADDRESS_SLICE]
        if got != want.encode():
            msg = f"field Meter_Address is {got.decode()!r}: the answer is not from meter {want}"
            raise EkmAddressMismatchError(msg, snippet=got)
    if block is not EkmBlock.V3:
        got_type = frame[_REQUEST_TYPE_SLICE]
        if got_type != _REQUEST_TYPE[block].encode():
            msg = (
                f"{block.value} block field Request_Type is {got_type!r}, "
                f"expected {_REQUEST_TYPE[block]!r}"
            )
            raise EkmProtocolError(msg, snippet=got_type)
    if block is EkmBlock.V3:
        scale = V3_KWH_SCALE
    elif block is EkmBlock.V4_A:
        scale = kwh_scale_of(frame)
    else:
        if kwh_scale is None:
            msg = "decoding a v4 B block needs the kWh scale from the meter's A block"
            raise EkmValueError(msg)
        scale = kwh_scale
    values = _decode_fields(block, frame, scale)
    return _MODELS[block](**values)


def decode_v3(frame: bytes, *, address: int | str | None = None) -> EkmV3Reading:
    """Decode a v3 read answer."""
    reading = decode_block(frame, EkmBlock.V3, address=address)
    assert isinstance(reading, EkmV3Reading)  # noqa: S101 - narrows the type
    return reading


def decode_v4_a(frame: bytes, *, address: int | str | None = None) -> EkmV4ReadingA:
    """Decode a v4 A read answer."""
    reading = decode_block(frame, EkmBlock.V4_A, address=address)
    assert isinstance(reading, EkmV4ReadingA)  # noqa: S101 - narrows the type
    return reading


def decode_v4_b(frame: bytes, *, kwh_scale: int, address: int | str | None = None) -> EkmV4ReadingB:
    """Decode a v4 B read answer with the kWh scale of the same meter's A block."""
    reading = decode_block(frame, EkmBlock.V4_B, address=address, kwh_scale=kwh_scale)
    assert isinstance(reading, EkmV4ReadingB)  # noqa: S101 - narrows the type
    return reading


# --- Encoding blocks (for the simulator and round trips) ------------------------------------


def _encode_digits(value: float, spec: FieldSpec) -> bytes:
    """Return ``value`` as zero-padded digits of the field's length; raise if it does not fit."""
    number = round(value)
    text = f"{number:0{spec.length}d}".encode()
    if number < 0 or len(text) != spec.length:
        msg = f"field {spec.wire} value {value!r} does not fit {spec.length} digits"
        raise EkmValueError(msg)
    return text


def encode_block(  # noqa: C901, PLR0912 - one branch per field kind
    reading: EkmBlockReading, *, kwh_scale: int | None = None
) -> bytes:
    """Return the 255-byte wire block for ``reading`` (the ``crc16`` field is recomputed)."""
    if isinstance(reading, EkmV3Reading):
        block, scale = EkmBlock.V3, V3_KWH_SCALE
    elif isinstance(reading, EkmV4ReadingA):
        block, scale = EkmBlock.V4_A, reading.kwh_scale
    else:
        if kwh_scale is None:
            msg = "encoding a v4 B block needs the meter's kWh scale"
            raise EkmValueError(msg)
        block, scale = EkmBlock.V4_B, kwh_scale
    out = bytearray()
    for spec in LAYOUTS[block]:
        value = getattr(reading, spec.attr)
        kind = spec.kind
        raw: bytes
        if kind is Kind.HEX:
            raw = bytes.fromhex(value) if spec.attr != "crc16" else b"\x00\x00"
        elif kind is Kind.STR:
            raw = str(value).encode()
        elif kind is Kind.INT:
            raw = _encode_digits(value, spec)
        elif kind is Kind.ENERGY:
            raw = _encode_digits(value * 10**scale / 1000, spec)
        elif kind is Kind.SCALED:
            raw = _encode_digits(value * 10**scale, spec)
        elif kind is Kind.DIV10:
            raw = _encode_digits(value * 10, spec)
        elif kind is Kind.DIV100:
            raw = _encode_digits(value * 100, spec)
        elif kind is Kind.PF:
            raw = value.raw.encode()
        else:
            raw = value.raw.encode()
        if len(raw) != spec.length:
            msg = f"field {spec.wire} encodes to {len(raw)} bytes, not {spec.length}"
            raise EkmValueError(msg)
        out += raw
    out[-2:] = crc16_bytes(bytes(out[1:-2]))
    return bytes(out)


def power_factor(
    value: float, kind: EkmPowerFactorKind = EkmPowerFactorKind.NONE
) -> EkmPowerFactor:
    """Build a power factor value for encoding (``value`` 0..1.00)."""
    hundredths = round(value * 100)
    if not 0 <= hundredths <= 999:  # noqa: PLR2004
        msg = f"power factor {value!r} does not fit 3 digits"
        raise EkmValueError(msg)
    return EkmPowerFactor(
        raw=f"{kind.value}{hundredths:03d}", kind=kind, power_factor=hundredths / 100
    )


def meter_time(when: dt.datetime) -> EkmMeterTime:
    """Build the ``Meter_Time`` a meter would show for ``when``."""
    weekday = meter_weekday(when)
    raw = (
        f"{when.year % 100:02d}{when.month:02d}{when.day:02d}{weekday:02d}"
        f"{when.hour:02d}{when.minute:02d}{when.second:02d}"
    )
    return EkmMeterTime(
        raw=raw,
        year=when.year % 100,
        month=when.month,
        day=when.day,
        weekday=weekday,
        hour=when.hour,
        minute=when.minute,
        second=when.second,
    )


def to_ekm_dict(reading: EkmBlockReading) -> dict[str, Any]:
    """Return the reading keyed by EKM field names (hex/str/number/raw PF and time strings)."""
    layout = LAYOUTS[
        EkmBlock.V3
        if isinstance(reading, EkmV3Reading)
        else EkmBlock.V4_A
        if isinstance(reading, EkmV4ReadingA)
        else EkmBlock.V4_B
    ]
    result: dict[str, Any] = {}
    for spec in layout:
        value = getattr(reading, spec.attr)
        if isinstance(value, EkmPowerFactor | EkmMeterTime):
            value = value.raw
        result[spec.wire] = value
    return result


MODEL_FIELDS: Final = {
    block: frozenset(f.name for f in fields(model)) for block, model in _MODELS.items()
}


# --- Stream decoders -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EkmBlockFrame:
    """A complete 255-byte block with a good CRC (parity stripped)."""

    raw: bytes


@dataclass(frozen=True, slots=True)
class EkmAck:
    """The single 0x06 byte a meter sends to accept a password or write frame."""


type EkmClientEvent = EkmBlockFrame | EkmAck


class EkmDecoder:
    """Client-side stream decoder: fed arbitrary chunks, yields the block or ACK it expects."""

    def __init__(self) -> None:
        """Start idle with an empty buffer."""
        self._buf = bytearray()
        self._expect: type[EkmBlockFrame | EkmAck] | None = None
        self.skipped = 0

    def expect_block(self) -> None:
        """Wait for a 255-byte block next; forget anything buffered."""
        self._buf.clear()
        self.skipped = 0
        self._expect = EkmBlockFrame

    def expect_ack(self) -> None:
        """Wait for a command ACK next; forget anything buffered."""
        self._buf.clear()
        self.skipped = 0
        self._expect = EkmAck

    @property
    def buffered(self) -> int:
        """Bytes of a frame received so far (to tell a truncated frame from silence)."""
        return len(self._buf)

    def pending(self, limit: int = 32) -> bytes:
        """The first ``limit`` bytes of an incomplete frame (for error snippets)."""
        return bytes(self._buf[:limit])

    def feed(self, data: bytes) -> None:
        """Add received bytes (bit 7, a 7E1 parity bit seen by an 8N1 port, is dropped).

        Bytes arriving while no frame is expected (between exchanges) are dropped: the next
        ``expect_*`` would forget them anyway, and keeping them lets a chatty bus grow the
        buffer without bound.
        """
        if self._expect is None:
            self.skipped += len(data)
            return
        self._buf += data.translate(_STRIP_PARITY)

    def next_event(self) -> EkmClientEvent | None:
        """Return the next complete frame, None if more bytes are needed; raise on a bad one."""
        buf = self._buf
        if self._expect is EkmAck:
            if not buf:
                return None
            first = buf[0]
            del buf[0]
            self._expect = None
            if first != ACK:
                msg = f"expected ACK 0x06 from the meter, got 0x{first:02x}"
                raise EkmProtocolError(msg, snippet=bytes((first,)))
            return EkmAck()
        if self._expect is EkmBlockFrame:
            start = buf.find(STX)
            if start < 0:
                self.skipped += len(buf)
                buf.clear()
                return None
            if start:
                self.skipped += start
                del buf[:start]
            if len(buf) < BLOCK_LENGTH:
                return None
            frame = bytes(buf[:BLOCK_LENGTH])
            del buf[:BLOCK_LENGTH]
            self._expect = None
            return EkmBlockFrame(check_block(frame))
        return None


@dataclass(frozen=True, slots=True)
class EkmReadRequest:
    """A read request as a meter sees it."""

    address: str
    block: EkmBlock


@dataclass(frozen=True, slots=True)
class EkmCommandFrame:
    """A password (``P1``), write (``W1``) or read-settings (``R1``) frame with a good CRC."""

    command: str
    register: str
    data: str


@dataclass(frozen=True, slots=True)
class EkmEndSession:
    """The fixed end-of-session frame."""


type EkmMeterEvent = EkmReadRequest | EkmCommandFrame | EkmEndSession


class EkmRequestDecoder:
    """Meter-side stream decoder (used by the simulator): requests, commands, end-session."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        """Add received bytes (parity bit dropped)."""
        self._buf += data.translate(_STRIP_PARITY)

    def next_event(self) -> EkmMeterEvent | None:
        """Return the next complete frame or None; raise (and skip it) if one is malformed."""
        buf = self._buf
        while buf and buf[0] not in (ord("/"), SOH):
            del buf[0]
        if not buf:
            return None
        if buf[0] == ord("/"):
            return self._read_request()
        return self._command()

    def _read_request(self) -> EkmReadRequest | None:
        """Parse ``/?<digits>!<CR><LF>``."""
        buf = self._buf
        end = buf.find(b"!\r\n", 0, 35)  # only where a request can end: O(1) per call
        if end < 0:
            if len(buf) > 32:  # noqa: PLR2004 - longer than any request
                bad = bytes(buf[:32])
                del buf[0]
                msg = "read request without its '!\\r\\n' end"
                raise EkmProtocolError(msg, snippet=bad)
            return None
        frame = bytes(buf[: end + 3])
        del buf[: end + 3]
        body = frame[2:end]
        if frame[1:2] != b"?" or not body.isdigit():
            msg = f"malformed read request {frame!r}"
            raise EkmProtocolError(msg, snippet=frame)
        if len(body) == ADDRESS_LENGTH:
            return EkmReadRequest(body.decode(), EkmBlock.V3)
        if len(body) == ADDRESS_LENGTH + 2 and body[12:] in (b"00", b"01"):
            block = EkmBlock.V4_A if body[12:] == b"00" else EkmBlock.V4_B
            return EkmReadRequest(body[:12].decode(), block)
        msg = f"read request {frame!r} has no 12-digit address"
        raise EkmProtocolError(msg, snippet=frame)

    def _command(self) -> EkmCommandFrame | EkmEndSession | None:
        """Parse SOH ... ETX CRC2, or the fixed end-session frame."""
        buf = self._buf
        if len(buf) < len(END_SESSION):
            return None
        if bytes(buf[: len(END_SESSION)]) == END_SESSION:
            del buf[: len(END_SESSION)]
            return EkmEndSession()
        end = buf.find(ETX, 0, MAX_COMMAND_LENGTH - 2)  # a frame is at most MAX_COMMAND_LENGTH
        if end < 0 or len(buf) < end + 3:
            if len(buf) > MAX_COMMAND_LENGTH:
                bad = bytes(buf[:32])
                del buf[0]
                msg = "command frame without ETX"
                raise EkmProtocolError(msg, snippet=bad)
            return None
        frame = bytes(buf[: end + 3])
        del buf[: end + 3]
        body = frame[1:-2]
        if crc16(body) != int.from_bytes(frame[-2:], "big"):
            msg = "command frame CRC does not match"
            raise EkmCrcError(msg, snippet=frame)
        command, payload = body[:2].decode(), body[3:-1]
        if body[2:3] != bytes((STX,)) or command not in ("P1", "W1", "R1"):
            msg = f"malformed command frame {frame!r}"
            raise EkmProtocolError(msg, snippet=frame)
        register = ""
        if command != "P1":
            register, payload = payload[:4].decode(), payload[4:]
        if payload[:1] != b"(" or payload[-1:] != b")":
            msg = f"command frame data not in parentheses: {frame!r}"
            raise EkmProtocolError(msg, snippet=frame)
        return EkmCommandFrame(command, register, payload[1:-1].decode())


# --- Wire timing (fact sheet §1, §7) -------------------------------------------------------

BITS_PER_CHAR: Final = 10  # 7E1: start + 7 data + parity + stop


def wire_seconds(n_bytes: int, baudrate: int = 9600) -> float:
    """Return how long ``n_bytes`` characters take on the wire at ``baudrate`` 7E1."""
    return n_bytes * BITS_PER_CHAR / baudrate
