"""Fuzz EKM: read blocks (v3, v4 A/B), the client's block/ACK stream and the meter's request stream.

Input: one selector byte, then the payload. The low 3 bits pick the path; the rest of the byte
varies the chunk sizes of streamed paths.
"""

from __future__ import annotations

from bench.fuzz import _harness as h

with h.instrumented():
    from custom_components.meterlink.protocols.ekm import codec
    from custom_components.meterlink.protocols.ekm.client import mask_secrets
    from custom_components.meterlink.protocols.ekm.models import EkmBlock

_BLOCKS = (EkmBlock.V3, EkmBlock.V4_A, EkmBlock.V4_B)
_BODY = codec.BLOCK_LENGTH - 3  # STX + body + CRC-16
# A decoder holds at most one block (or one command frame) plus the chunk just fed.
BOUND = max(codec.BLOCK_LENGTH, codec.MAX_COMMAND_LENGTH) + 97


def _decode(frame: bytes, block: EkmBlock) -> None:
    """Decode ``frame`` as ``block`` (checking the address too) and format the reading."""
    reading = h.call(codec.decode_block, frame, block, kwh_scale=len(frame) % 4)
    if reading is not None:
        codec.to_ekm_dict(reading)
        h.call(codec.decode_block, frame, block, address="000300012345", kwh_scale=2)


def _with_crc(payload: bytes) -> bytes:
    """Make a 255-byte block of ``payload`` with STX and a right CRC (to reach the fields)."""
    body = payload[:_BODY].ljust(_BODY, b"0")
    return bytes((codec.STX,)) + body + codec.crc16_bytes(body)


def _client_stream(payload: bytes, sel: int) -> None:
    """Feed the client decoder chunks, expecting a block, then an ACK, then a block, ...

    With bit 1 of ``sel`` the decoder stays idle after its first frame (no exchange waiting,
    as between polls) while the rest of the stream arrives: it must not keep those bytes.
    """
    decoder = codec.EkmDecoder()
    want_block = bool(sel & 1)
    stay_idle = bool(sel & 2)
    idle = False
    decoder.expect_block() if want_block else decoder.expect_ack()
    for piece in h.pieces(payload, sel >> 2):
        decoder.feed(piece)
        try:
            event = decoder.next_event()
        except h.typed_errors():
            event = None
            want_block = not want_block
            decoder.expect_block() if want_block else decoder.expect_ack()
        if isinstance(event, codec.EkmBlockFrame):
            _decode(event.raw, _BLOCKS[sel % 3])
        if event is not None and stay_idle:
            idle = True
        elif event is not None and not idle:
            want_block = not want_block
            decoder.expect_block() if want_block else decoder.expect_ack()
        # Bytes after a complete frame stay until the next exchange clears them: one read.
        h.check_bounded("EkmDecoder", decoder.buffered, BOUND + len(piece))


def _meter_stream(payload: bytes, sel: int) -> None:
    """Feed the meter-side request decoder chunks; it skips a bad frame and goes on."""
    decoder = codec.EkmRequestDecoder()
    for piece in h.chunks(payload, sel):
        decoder.feed(piece)
        h.drain(decoder.next_event, budget=len(decoder._buf))  # noqa: SLF001
        h.check_bounded("EkmRequestDecoder", len(decoder._buf), BOUND)  # noqa: SLF001


def one_input(data: bytes) -> None:
    """Run one input through the path its selector byte picks."""
    sel, payload = h.split(data)
    mode = sel & 7
    if mode < 3:
        _decode(payload, _BLOCKS[mode])
    elif mode < 6:
        _decode(_with_crc(payload), _BLOCKS[mode - 3])
    elif mode == 6:
        _client_stream(payload, sel >> 3)
    else:
        _meter_stream(payload, sel >> 3)
        mask_secrets(payload)


if __name__ == "__main__":
    h.run("ekm", one_input)
