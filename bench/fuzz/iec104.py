"""Fuzz IEC 60870-5-104: the APCI stream decoder, ASDUs, CP56Time2a and the CSV/JSON point lists.

Input: one selector byte, then the payload. The low 3 bits pick the path; bit 3 repeats a
streamed payload 64 times; the top bits vary the chunk sizes.
"""

from __future__ import annotations

from bench.fuzz import _harness as h

with h.instrumented():
    from custom_components.meterlink.protocols.iec104 import codec
    from custom_components.meterlink.protocols.iec104.models import IFrame
    from custom_components.meterlink.protocols.iec104.pointlist import (
        parse_iec104_point_list_csv,
        parse_iec104_point_list_json,
    )

# One APDU (start, length, at most 253 octets) plus the chunk just fed.
BOUND = 2 + codec.MAX_APDU_LENGTH + 97


def _asdu(data: bytes) -> None:
    """Decode an ASDU and encode it again (what the simulator and tests rely on)."""
    asdu = h.call(codec.decode_asdu, data)
    if asdu is not None:
        h.call(codec.encode_asdu, asdu)


def _stream(payload: bytes, sel: int) -> None:
    """Feed chunks; after a framing error every later call raises (the connection closes)."""
    decoder = codec.ApduDecoder()
    for piece in h.chunks(payload, sel):
        decoder.feed(piece)
        frames: list[object] | None = h.call(list, decoder.frames())
        if frames is None:
            return
        if len(frames) > len(payload):
            msg = f"{len(frames)} APDUs from {len(payload)} bytes"
            raise h.UnboundedError(msg)
        for frame in frames:
            if isinstance(frame, IFrame):
                _asdu(frame.asdu)
        h.check_bounded("ApduDecoder", len(decoder._buffer), BOUND)  # noqa: SLF001


def one_input(data: bytes) -> None:
    """Run one input through the path its selector byte picks."""
    sel, payload = h.split(data)
    mode, sel = sel & 7, sel >> 3
    if mode in (0, 5):
        _stream(payload * 64 if sel & 1 else payload, sel >> 1)
    elif mode in (1, 6):
        _asdu(payload)
    elif mode == 2:
        h.call(codec.decode_time, payload)
    elif mode in (3, 7):
        text = payload.decode("utf-8", "replace")
        h.call(parse_iec104_point_list_csv, text, default_common_address=1 if sel & 1 else None)
    else:
        text = payload.decode("utf-8", "replace")
        h.call(parse_iec104_point_list_json, text, default_common_address=1 if sel & 1 else None)


if __name__ == "__main__":
    h.run("iec104", one_input)
