"""Decoding of pushed DATA-NOTIFICATIONs (HAN/P1-style listen mode) into readings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .axdr import CosemDateTime, DataItem, DataTag, decode_data, obis_to_str, unit_name
from .cipher import (
    TAG_GENERAL_DED_CIPHERING,
    TAG_GENERAL_GLO_CIPHERING,
    CipheredApdu,
    decrypt_apdu,
    parse_general_ciphering,
)
from .errors import DlmsDataError, DlmsError, DlmsFramingError, DlmsUnsupportedError
from .hdlc import LLC_RESPONSE, HdlcDecoder, HdlcFrameKind, HdlcReassembler
from .mbus import MbusDecoder, MbusReassembler
from .models import DlmsPushList, DlmsPushNotification, DlmsReading, DlmsSecurity, ReadingValue

if TYPE_CHECKING:
    from collections.abc import Iterator
    import datetime as dt

# Green Book 9.5: DATA-NOTIFICATION APDU tag; body = long-invoke-id-and-priority (4 bytes),
# date-time (OCTET STRING, length 0 or 12), notification-body (one Data).
TAG_DATA_NOTIFICATION = 0x0F
# OBIS 1.1.0.2.129.255 / 1.0.0.2.129.255: "OBIS list version identifier" (NEK HAN lists).
_LIST_VERSION_OBIS = frozenset({"1.1.0.2.129.255", "1.0.0.2.129.255"})
# FLAG manufacturer ids (first 3 bytes of a system title) of meters known to push.
_FLAG_MANUFACTURERS = {
    "KFM": "Kaifa",
    "KAM": "Kamstrup",
    "AID": "Aidon",
    "LGZ": "Landis+Gyr",
    "ISK": "Iskra",
    "SAG": "Sagemcom",
    "SMS": "Sagemcom",
}


class PushFraming(StrEnum):
    """How pushed APDUs are framed on the wire."""

    HDLC = "hdlc"
    MBUS = "mbus"


@dataclass(frozen=True, kw_only=True, slots=True)
class DataNotification:
    """A parsed DATA-NOTIFICATION APDU."""

    invoke_id: int
    date_time: CosemDateTime | None
    body: DataItem


def parse_data_notification(apdu: bytes) -> DataNotification:
    """Parse an unciphered DATA-NOTIFICATION APDU."""
    apdu = bytes(apdu)
    if not apdu or apdu[0] != TAG_DATA_NOTIFICATION:
        tag = f"0x{apdu[0]:02X}" if apdu else "nothing"
        msg = f"APDU tag is {tag}, expected DATA-NOTIFICATION 0x0F"
        raise DlmsDataError(msg, snippet=apdu[:8])
    if len(apdu) < 6:  # noqa: PLR2004
        msg = "DATA-NOTIFICATION is too short for its invoke id and date-time"
        raise DlmsDataError(msg, snippet=apdu)
    invoke_id = int.from_bytes(apdu[1:5], "big")
    pos = 5
    date_time = None
    length = apdu[pos]
    if length == 0:
        pos += 1
    elif length == 12:  # noqa: PLR2004
        date_time = CosemDateTime.from_bytes(apdu[pos + 1 : pos + 13])
        pos += 13
    elif length == DataTag.OCTET_STRING and apdu[pos + 1 : pos + 2] == b"\x0c":
        # Kamstrup HAN quirk: the date-time is sent as a tagged Data octet-string.
        date_time = CosemDateTime.from_bytes(apdu[pos + 2 : pos + 14])
        pos += 14
    else:
        msg = f"DATA-NOTIFICATION date-time length is {length}, expected 0 or 12"
        raise DlmsDataError(msg, snippet=apdu[pos : pos + 8])
    body, end = decode_data(apdu, pos)
    if end != len(apdu):
        msg = f"{len(apdu) - end} byte(s) after the notification body"
        raise DlmsDataError(msg, snippet=apdu[end : end + 16])
    return DataNotification(invoke_id=invoke_id, date_time=date_time, body=body)


def _is_plausible_notification(plain: bytes) -> bool:
    """Return True when ``plain`` parses as a DATA-NOTIFICATION (used to name a wrong key)."""
    try:
        parse_data_notification(plain)
    except DlmsError:
        return False
    return True


def _scaled(raw: float, scaler: int) -> int | float:
    """Apply a power-of-ten scaler once, exactly for integer inputs."""
    if scaler == 0:
        return raw
    if scaler > 0:
        return raw * int(10**scaler)
    return raw / int(10**-scaler)


def _plain_value(item: DataItem) -> ReadingValue:
    """Turn a simple Data item into a reading value."""
    value = item.value
    if isinstance(value, CosemDateTime):
        return value.to_datetime()
    if item.tag is DataTag.OCTET_STRING and isinstance(value, bytes):
        if len(value) == 12:  # noqa: PLR2004
            return CosemDateTime.from_bytes(value).to_datetime()
        if value and all(32 <= byte < 127 for byte in value):  # noqa: PLR2004
            return value.decode("ascii")
        return value
    if isinstance(value, tuple):
        return None
    return value


def _make_reading(
    obis: str, item: DataItem, scaler: int | None, unit_code: int | None
) -> DlmsReading:
    """Build one reading, applying the scaler exactly once."""
    value = _plain_value(item)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raw: int | float | None = value
        factor = scaler or 0
        return DlmsReading(
            obis=obis,
            value=_scaled(value, factor),
            unit=unit_name(unit_code),
            scaler=factor,
            raw=raw,
        )
    return DlmsReading(obis=obis, value=value, unit=unit_name(unit_code))


def _scaler_unit(item: DataItem | None) -> tuple[int, int] | None:
    """Return (scaler, unit) if ``item`` is a scaler_unit structure {integer, enum}."""
    if item is None or item.tag is not DataTag.STRUCTURE:
        return None
    children = item.children
    if len(children) != 2 or not all(child.is_integer for child in children):  # noqa: PLR2004
        return None
    scaler, unit = children[0].value, children[1].value
    if not isinstance(scaler, int) or not isinstance(unit, int) or not -128 <= scaler <= 127:  # noqa: PLR2004
        return None
    return scaler, unit


def _collect_obis(items: tuple[DataItem, ...]) -> tuple[list[DlmsReading], list[DataItem]]:
    """Walk a list finding (OBIS, value[, scaler_unit]) groups; return readings and leftovers."""
    readings: list[DlmsReading] = []
    leftovers: list[DataItem] = []
    index = 0
    while index < len(items):
        item = items[index]
        children = item.children
        if item.tag is DataTag.STRUCTURE and children and children[0].is_obis and len(children) > 1:
            sub_readings, _ = _collect_obis(children)
            readings.extend(sub_readings)
            index += 1
            continue
        if item.is_obis and index + 1 < len(items):
            obis = obis_to_str(item.value if isinstance(item.value, bytes) else b"")
            value = items[index + 1]
            index += 2
            scaler_unit = _scaler_unit(items[index] if index < len(items) else None)
            if scaler_unit is not None:
                index += 1
            scaler, unit = scaler_unit or (None, None)
            readings.append(_make_reading(obis, value, scaler, unit))
            continue
        leftovers.append(item)
        index += 1
    return readings, leftovers


# --- Known HAN lists without scaler/unit in the frame -------------------------------------
# Kamstrup "Kamstrup_V0001" (NEK HAN, Norway): OBIS/value pairs, no scaler/unit; currents in
# 0.01 A, voltages in V, powers in W/var, energies in 10 Wh (0.01 kWh). Kaifa "KFM_001":
# positional values; currents in mA, voltages in 0.1 V, powers in W/var, energies in Wh.
# Sources: manufacturer HAN sheets as summarised by open HAN readers (amsreader, SiLabs
# known_lists.c); they agree on these exponents.
_W, _VAR, _WH, _VARH, _A, _V = 27, 29, 30, 32, 33, 35
_KAMSTRUP_UNITS: dict[tuple[int, int], tuple[int, int]] = {
    (1, 7): (0, _W),
    (2, 7): (0, _W),
    (3, 7): (0, _VAR),
    (4, 7): (0, _VAR),
    (31, 7): (-2, _A),
    (51, 7): (-2, _A),
    (71, 7): (-2, _A),
    (32, 7): (0, _V),
    (52, 7): (0, _V),
    (72, 7): (0, _V),
    (1, 8): (1, _WH),
    (2, 8): (1, _WH),
    (3, 8): (1, _VARH),
    (4, 8): (1, _VARH),
}
_KAIFA_ID = "KFM_001"
_KAIFA_HEAD = ("1.1.0.2.129.255", "0.0.96.1.0.255", "0.0.96.1.7.255")
_KAIFA_POWERS = (
    ("1.0.1.7.0.255", 0, _W),
    ("1.0.2.7.0.255", 0, _W),
    ("1.0.3.7.0.255", 0, _VAR),
    ("1.0.4.7.0.255", 0, _VAR),
)
_KAIFA_ENERGIES = (
    ("0.0.1.0.0.255", None, None),
    ("1.0.1.8.0.255", 0, _WH),
    ("1.0.2.8.0.255", 0, _WH),
    ("1.0.3.8.0.255", 0, _VARH),
    ("1.0.4.8.0.255", 0, _VARH),
)
_I = (("1.0.31.7.0.255", -3, _A), ("1.0.51.7.0.255", -3, _A), ("1.0.71.7.0.255", -3, _A))
_U = (("1.0.32.7.0.255", -1, _V), ("1.0.52.7.0.255", -1, _V), ("1.0.72.7.0.255", -1, _V))
_KAIFA_3P = _KAIFA_POWERS + _I + _U
_KAIFA_1P = (*_KAIFA_POWERS, _I[0], _U[0])
# Positional Kaifa lists by element count (after the 3 identification strings).
_KAIFA_LISTS: dict[int, tuple[tuple[str, int | None, int | None], ...]] = {
    13: _KAIFA_3P,
    9: _KAIFA_1P,
    18: _KAIFA_3P + _KAIFA_ENERGIES,
    14: _KAIFA_1P + _KAIFA_ENERGIES,
}


def _kamstrup_rescale(reading: DlmsReading) -> DlmsReading:
    """Apply Kamstrup's implicit scaler/unit to a reading sent without them."""
    parts = [int(part) for part in reading.obis.split(".")]
    known = _KAMSTRUP_UNITS.get((parts[2], parts[3]))
    if known is None or reading.raw is None or reading.unit is not None:
        return reading
    scaler, unit = known
    return DlmsReading(
        obis=reading.obis,
        value=_scaled(reading.raw, scaler),
        unit=unit_name(unit),
        scaler=scaler,
        raw=reading.raw,
    )


def _kaifa_readings(values: tuple[DataItem, ...]) -> list[DlmsReading] | None:
    """Map a positional Kaifa list (KFM_001) to readings; None if it is not one."""
    if len(values) == 1 and values[0].tag is DataTag.DOUBLE_LONG_UNSIGNED:
        return [_make_reading("1.0.1.7.0.255", values[0], 0, _W)]
    layout = _KAIFA_LISTS.get(len(values))
    if layout is None or _plain_value(values[0]) != _KAIFA_ID:
        return None
    readings = [
        _make_reading(obis, item, None, None)
        for obis, item in zip(_KAIFA_HEAD, values[:3], strict=True)
    ]
    readings.extend(
        _make_reading(obis, item, scaler, unit)
        for (obis, scaler, unit), item in zip(layout, values[3:], strict=True)
    )
    return readings


def _manufacturer_from_title(system_title: bytes | None) -> str | None:
    """Return the manufacturer a system title's FLAG id names, if known."""
    if not system_title or len(system_title) < 3:  # noqa: PLR2004
        return None
    flag = system_title[:3].decode("latin-1")
    return _FLAG_MANUFACTURERS.get(flag.upper())


def readings_from_body(
    body: DataItem, *, system_title: bytes | None = None
) -> tuple[DlmsPushList, tuple[DlmsReading, ...]]:
    """Decode a notification body into readings and recognise which list it is."""
    items = body.children if body.tag in (DataTag.STRUCTURE, DataTag.ARRAY) else (body,)
    manufacturer = _manufacturer_from_title(system_title)
    kaifa = _kaifa_readings(items)
    if kaifa is not None:
        obis_codes = tuple(reading.obis for reading in kaifa)
        push_list = DlmsPushList(
            list_id=_KAIFA_ID if len(items) > 1 else "KFM_001/list1",
            manufacturer="Kaifa",
            obis_codes=obis_codes,
        )
        return push_list, tuple(kaifa)
    readings, leftovers = _collect_obis(items)
    list_id = None
    for reading in readings:
        if reading.obis in _LIST_VERSION_OBIS and isinstance(reading.value, str):
            list_id = reading.value
    if list_id is None and leftovers:
        first = _plain_value(leftovers[0])
        if isinstance(first, str) and first.isprintable():
            list_id = first
    if not readings and not list_id:
        msg = "notification body holds neither OBIS codes nor a known positional list"
        raise DlmsUnsupportedError(msg)
    if list_id is not None and list_id.lower().startswith("kamstrup"):
        readings = [_kamstrup_rescale(reading) for reading in readings]
        manufacturer = "Kamstrup"
    elif list_id is not None and list_id.upper().startswith("AIDON"):
        manufacturer = "Aidon"
    push_list = DlmsPushList(
        list_id=list_id or "generic",
        manufacturer=manufacturer,
        obis_codes=tuple(reading.obis for reading in readings),
    )
    return push_list, tuple(readings)


def decode_push_apdu(
    apdu: bytes,
    *,
    block_cipher_key: bytes | None = None,
    authentication_key: bytes | None = None,
) -> DlmsPushNotification:
    """Decode one (possibly ciphered) DATA-NOTIFICATION APDU into readings."""
    apdu = bytes(apdu)
    ciphered: CipheredApdu | None = None
    if apdu[:1] in (bytes((TAG_GENERAL_GLO_CIPHERING,)), bytes((TAG_GENERAL_DED_CIPHERING,))):
        ciphered = parse_general_ciphering(apdu)
        apdu = decrypt_apdu(
            ciphered,
            block_cipher_key=block_cipher_key,
            authentication_key=authentication_key,
            plausible=_is_plausible_notification,
        )
    notification = parse_data_notification(apdu)
    system_title = ciphered.system_title if ciphered else None
    push_list, readings = readings_from_body(notification.body, system_title=system_title)
    timestamp: dt.datetime | None = None
    if notification.date_time is not None:
        timestamp = notification.date_time.to_datetime()
    return DlmsPushNotification(
        invoke_id=notification.invoke_id,
        timestamp=timestamp,
        system_title=system_title,
        invocation_counter=ciphered.invocation_counter if ciphered else None,
        security=ciphered.security if ciphered else DlmsSecurity.NONE,
        push_list=push_list,
        readings=readings,
    )


class DlmsPushDecoder:
    """Stream decoder for a push port: bytes in, notifications out; fed arbitrary chunks.

    ``next_notification()`` returns a notification, None when more bytes are needed, or
    raises a typed error for a malformed frame/APDU (the stream continues after it). A
    ciphered frame with a wrong key raises :class:`DlmsDecipherError` naming the key.
    """

    def __init__(
        self,
        *,
        framing: PushFraming = PushFraming.HDLC,
        block_cipher_key: bytes | None = None,
        authentication_key: bytes | None = None,
    ) -> None:
        """Set up the framing layer and the keys used for ciphered frames."""
        self.framing = framing
        self._block_cipher_key = block_cipher_key
        self._authentication_key = authentication_key
        self._hdlc = HdlcDecoder()
        self._hdlc_join = HdlcReassembler()
        self._mbus = MbusDecoder()
        self._mbus_join = MbusReassembler()
        self._apdus: list[bytes] = []

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self.framing is PushFraming.HDLC:
            self._hdlc.feed(data)
        else:
            self._mbus.feed(data)

    @property
    def buffered(self) -> int:
        """Bytes held in the framing and reassembly buffers."""
        if self.framing is PushFraming.HDLC:
            return self._hdlc.buffered + self._hdlc_join.buffered
        return self._mbus.buffered + self._mbus_join.buffered

    def notifications(self) -> Iterator[DlmsPushNotification]:
        """Yield every complete notification; errors propagate (call again to continue)."""
        while (notification := self.next_notification()) is not None:
            yield notification

    def _next_apdu(self) -> bytes | None:
        """Return the next reassembled APDU from the framing layer."""
        if self.framing is PushFraming.HDLC:
            while (frame := self._hdlc.next_frame()) is not None:
                if frame.kind not in (HdlcFrameKind.I, HdlcFrameKind.UI):
                    continue
                if not frame.segmented and not self._hdlc_join.pending and not frame.information:
                    continue
                whole = self._hdlc_join.add(frame)
                if whole is not None:
                    # Some meters omit the LLC header on push frames.
                    return whole[3:] if whole[:3] == LLC_RESPONSE else whole
            return None
        while (mbus_frame := self._mbus.next_frame()) is not None:
            whole = self._mbus_join.add(mbus_frame)
            if whole is not None:
                return whole
        return None

    def next_notification(self) -> DlmsPushNotification | None:
        """Return the next notification or None; raise for malformed input."""
        apdu = self._next_apdu()
        if apdu is None:
            return None
        if not apdu:
            msg = "empty APDU in push frame"
            raise DlmsFramingError(msg)
        return decode_push_apdu(
            apdu,
            block_cipher_key=self._block_cipher_key,
            authentication_key=self._authentication_key,
        )
