"""Fuzz RSCP: frames, items and models on plaintext, and the cipher + stream decoder on ciphertext.

Input: one selector byte, then the payload. The low 3 bits pick the path; the rest of the byte
varies the chunk sizes of streamed paths.
"""

from __future__ import annotations

import struct
import zlib

from bench.fuzz import _harness as h

with h.instrumented():
    from custom_components.meterlink.protocols.e3dc import codec, models
    from custom_components.meterlink.protocols.e3dc.cipher import BLOCK_SIZE, RscpCipher

KEY = "fuzz-rscp-key"
# One padded frame is the most a decoder may hold back, plus one read still being cut.
BOUND = codec.MAX_FRAME_SIZE + BLOCK_SIZE
_HEADER = struct.Struct("<2sHQIH")
_MODEL_PARSERS = tuple(
    getattr(cls, name)
    for cls in vars(models).values()
    if isinstance(cls, type) and cls.__module__ == models.__name__
    for name in ("from_item", "from_items")
    if name in vars(cls)
)


def _walk(items: tuple[codec.RscpItem, ...], depth: int = 0) -> None:
    """Touch every item's name and error state, as logging and the client do."""
    for entry in items:
        _ = entry.name, entry.is_error
        if isinstance(entry.value, tuple) and depth < codec.MAX_DEPTH:
            _walk(entry.children, depth + 1)


def _use_items(items: tuple[codec.RscpItem, ...]) -> None:
    """Use a frame's items the way the client does: every model parser on its top-level items."""
    _walk(items)
    for parser in _MODEL_PARSERS:
        if parser.__name__ == "from_items":
            h.call(parser, items)
            continue
        for entry in items:
            if parser.__qualname__.startswith("HistoryTotals"):
                h.call(parser, entry, start=0, span_s=3600)
                h.call(models.HistoryTotals.series_from_item, entry, start=0, interval_s=900)
            else:
                h.call(parser, entry)


def _with_crc(payload: bytes) -> bytes:
    """Make ``payload`` a frame whose header length and CRC are right (to reach the items)."""
    header = _HEADER.pack(codec.MAGIC, codec.CTRL_VERSION_1 | codec.CTRL_CRC_FLAG, 0, 0, 0)
    data = payload[: codec.MAX_DATA_SIZE]
    frame = header[:-2] + len(data).to_bytes(2, "little") + data
    return frame + zlib.crc32(frame).to_bytes(4, "little")


def _stream(
    decoder: codec.RscpFrameDecoder | codec.RscpStreamDecoder, data: bytes, sel: int
) -> None:
    """Feed chunks; after a framing error the connection would close, so stop there."""
    for piece in h.chunks(data, sel):
        frames = h.call(decoder.feed, piece)
        h.check_bounded(type(decoder).__name__, decoder.buffered, BOUND)
        if frames is None:
            return
        for frame in frames:
            _use_items(frame.items)


def one_input(data: bytes) -> None:
    """Run one input through the path its selector byte picks."""
    sel, payload = h.split(data)
    mode = sel & 7
    if mode == 0:
        frame = h.call(codec.decode_frame, payload)
        if frame is not None:
            _use_items(frame.items)
    elif mode == 1:
        items = h.call(codec.decode_items, payload)
        if items is not None:
            _use_items(tuple(items))
    elif mode == 2:
        frame = h.call(codec.decode_frame, _with_crc(payload))
        if frame is not None:
            _use_items(frame.items)
    elif mode == 3:
        _stream(codec.RscpFrameDecoder(block_size=1), payload, sel >> 3)
    elif mode == 4:
        _stream(codec.RscpFrameDecoder(block_size=BLOCK_SIZE), payload, sel >> 3)
    elif mode == 5:
        _stream(codec.RscpStreamDecoder(RscpCipher(KEY)), payload, sel >> 3)
    else:  # plaintext encrypted by our cipher, then decrypted and framed from chunks
        ciphertext = RscpCipher(KEY).encrypt(payload * (1 + (mode == 7)))
        _stream(codec.RscpStreamDecoder(RscpCipher(KEY)), ciphertext, sel >> 3)


if __name__ == "__main__":
    h.run("e3dc", one_input)
