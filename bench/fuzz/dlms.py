"""Fuzz DLMS: wrapper, HDLC, M-Bus and mode E framing, A-XDR data and (ciphered) push APDUs.

Input: one selector byte, then the payload. The low 4 bits pick the path; bit 4 feeds a
streamed payload 64 times whole (to catch buffers that grow across frames), else the top bits
vary the chunk sizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.fuzz import _harness as h

with h.instrumented():
    from custom_components.meterlink.protocols.dlms import axdr, cipher, hdlc, mbus, mode_e, push
    from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
    from custom_components.meterlink.protocols.dlms.wrapper import (
        WRAPPER_HEADER_SIZE,
        WrapperDecoder,
    )

if TYPE_CHECKING:
    from collections.abc import Callable

EK = bytes(range(16))  # block cipher key of the fuzz inputs
AK = bytes(range(16, 32))  # authentication key
TITLE = b"KFM\x00\x00\x00\x00\x01"
CHUNK = 97  # the largest chunk h.chunks() cuts
MESSAGE_BOUND = 65536  # the most one reassembled APDU may hold (HdlcReassembler's max_size)
_BOUNDS = {
    "WrapperDecoder": WRAPPER_HEADER_SIZE + 0xFFFF + CHUNK,
    "HdlcDecoder": 65536,
    "MbusDecoder": 4 + 0xFF + 2 + CHUNK,
    "ModeELineDecoder": 64 + CHUNK,
}
_SECURITIES = tuple(DlmsSecurity)


def _use_data(item: axdr.DataItem, depth: int = 0) -> None:
    """Format a decoded Data item the ways the client does (OBIS, date-time, children)."""
    if item.is_obis and isinstance(item.value, bytes):
        axdr.obis_to_str(item.value)
    if isinstance(item.value, bytes) and len(item.value) == 12:
        stamp = h.call(axdr.CosemDateTime.from_bytes, item.value)
        if stamp is not None:
            h.call(stamp.to_datetime)
    if isinstance(item.value, tuple) and depth < 64:
        for child in item.children:
            _use_data(child, depth + 1)


def _stream(decoder: Any, next_event: Callable[[], object], data: bytes, sel: int) -> list[Any]:
    """Feed ``decoder`` chunks, draining events after each; its buffer must stay bounded."""
    name = type(decoder).__name__
    events: list[Any] = []
    for piece in h.pieces(data, sel):
        decoder.feed(piece)
        events += h.drain(next_event, budget=len(decoder._buffer))  # noqa: SLF001
        h.check_bounded(name, len(decoder._buffer), _BOUNDS[name])  # noqa: SLF001
    return events


def _hdlc_stream(data: bytes, sel: int) -> None:
    """HDLC frames into the reassembler, then LLC and A-XDR, as the client reads them."""
    decoder = hdlc.HdlcDecoder()
    join = hdlc.HdlcReassembler()
    for frame in _stream(decoder, decoder.next_frame, data, sel):
        whole = h.call(join.add, frame)
        h.check_bounded("HdlcReassembler", len(join._parts), MESSAGE_BOUND)  # noqa: SLF001
        if whole:
            body = h.call(hdlc.strip_llc, whole)
            if body:
                h.call(axdr.decode_data, body, 1)


def _mbus_stream(data: bytes, sel: int) -> None:
    """M-Bus long frames into the reassembler."""
    decoder = mbus.MbusDecoder()
    join = mbus.MbusReassembler()
    for frame in _stream(decoder, decoder.next_frame, data, sel):
        h.call(join.add, frame)
        h.check_bounded("MbusReassembler", len(join._parts), MESSAGE_BOUND)  # noqa: SLF001


def _push_stream(data: bytes, sel: int, framing: push.PushFraming) -> None:
    """The push port's stream decoder, with keys so ciphered pushes are tried too."""
    decoder = push.DlmsPushDecoder(framing=framing, block_cipher_key=EK, authentication_key=AK)
    inner = decoder._hdlc if framing is push.PushFraming.HDLC else decoder._mbus  # noqa: SLF001
    name = type(inner).__name__
    for piece in h.pieces(data, sel):
        decoder.feed(piece)
        h.drain(decoder.next_notification, budget=len(inner._buffer))  # noqa: SLF001
        h.check_bounded(name, len(inner._buffer), _BOUNDS[name])  # noqa: SLF001
        for join in (decoder._hdlc_join, decoder._mbus_join):  # noqa: SLF001
            h.check_bounded(type(join).__name__, len(join._parts), MESSAGE_BOUND)  # noqa: SLF001


def _apdu(payload: bytes, sel: int) -> None:
    """A push APDU, plain or ciphered with our keys (so GCM passes and the body is reached)."""
    security = _SECURITIES[sel % len(_SECURITIES)]
    apdu = payload
    if security is not DlmsSecurity.NONE:
        apdu = cipher.encrypt_apdu(
            payload,
            security=security,
            system_title=TITLE,
            invocation_counter=sel,
            block_cipher_key=EK,
            authentication_key=AK,
        )
    h.call(push.decode_push_apdu, apdu, block_cipher_key=EK, authentication_key=AK)


def _text(payload: bytes) -> None:
    """Text parsers: OBIS codes and the mode E identification line."""
    text = payload.decode("utf-8", "replace")
    h.call(axdr.obis_from_str, text)
    h.call(mode_e.parse_identification, payload)
    h.call(mode_e.encode_sign_on, text)


def one_input(data: bytes) -> None:  # noqa: C901, PLR0912 - one branch per path
    """Run one input through the path its selector byte picks."""
    sel, payload = h.split(data)
    mode, sel = sel & 15, sel >> 4
    if mode == 0:
        wrapper = WrapperDecoder()
        _stream(wrapper, wrapper.next_frame, payload, sel)
    elif mode == 1:
        _hdlc_stream(payload, sel)
    elif mode == 2:
        h.call(hdlc.parse_hdlc_frame, payload)
    elif mode == 3:
        _mbus_stream(payload, sel)
    elif mode == 4:
        lines = mode_e.ModeELineDecoder()
        _stream(lines, lines.next_identification, payload, sel)
    elif mode in (5, 6):
        if mode == 5:
            item = h.call(axdr.decode_data_exact, payload)
        else:
            decoded = h.call(axdr.decode_data, payload)
            item = decoded[0] if decoded is not None else None
        if item is not None:
            _use_data(item)
            h.call(axdr.encode_data, item)
    elif mode == 7:
        h.call(push.parse_data_notification, payload)
    elif mode == 8:
        h.call(push.decode_push_apdu, payload)
        h.call(push.decode_push_apdu, payload, block_cipher_key=EK, authentication_key=AK)
    elif mode == 9:
        _apdu(payload, sel)
    elif mode == 10:
        _push_stream(payload, sel, push.PushFraming.HDLC)
    elif mode == 11:
        _push_stream(payload, sel, push.PushFraming.MBUS)
    elif mode == 12:
        stamp = h.call(axdr.CosemDateTime.from_bytes, payload)
        if stamp is not None:
            h.call(stamp.to_datetime)
    elif mode == 13:
        ciphered = h.call(cipher.parse_general_ciphering, payload)
        if ciphered is not None:
            h.call(
                cipher.decrypt_apdu,
                ciphered,
                block_cipher_key=EK,
                authentication_key=AK,
                plausible=lambda _plain: False,
            )
        h.call(cipher.parse_service_ciphering, payload, system_title=TITLE)
    else:
        _text(payload)


if __name__ == "__main__":
    h.run("dlms", one_input)
