"""Fuzz DCS: readings bodies streamed into the incremental decoder in arbitrary chunks, and the
JSON answers (login, meters, virtual meters, errors).

Input: one selector byte, then the body. The low 2 bits pick the path (layout), bit 2 the value
field, bit 3 virtual meter, bit 4 repeats the body's middle 64 times; the top bits vary chunks.
"""

from __future__ import annotations

from bench.fuzz import _harness as h

with h.instrumented():
    from custom_components.meterlink.protocols.dcs import codec

_LAYOUTS: tuple[codec.Layout, ...] = ("web_standard", "web_complete", "v3")
# Text waiting for the end of a JSON value is capped at MAX_PENDING; one chunk may add 97 bytes
# and a multi-byte character held by the UTF-8 decoder is not in the buffer.
BOUND = codec.MAX_PENDING + 97


def _readings(layout: codec.Layout, sel: int, body: bytes) -> None:
    """Stream ``body`` through the decoder, then close it; headers are read as the client does."""
    decoder = codec.DcsReadingsDecoder(
        layout, value_field="period" if sel & 1 else "total", virtual_meter=bool(sel & 2)
    )
    budget = 0
    for piece in h.chunks(body, sel >> 3):
        rows = h.call(decoder.feed, piece)
        if rows is None:
            return  # the client drops the response after a malformed chunk
        budget += len(piece)
        if len(rows) > budget:
            msg = f"{len(rows)} readings from {budget} bytes"
            raise h.UnboundedError(msg)
        h.check_bounded("DcsReadingsDecoder", len(decoder._buf), BOUND)  # noqa: SLF001
    h.call(decoder.close)
    h.call(lambda: decoder.header)


def _answers(body: bytes) -> None:
    """The JSON answers that are parsed whole."""
    codec.error_details(body)
    payload = h.call(codec.loads, body, "fuzz body")
    if payload is None:
        return
    h.call(codec.parse_user, payload)
    h.call(codec.parse_register, payload)
    h.call(codec.parse_list, payload, codec.parse_meter, "meter list")
    h.call(codec.parse_list, payload, codec.parse_virtual_meter, "virtual meter list")


def one_input(data: bytes) -> None:
    """Run one input through the path its selector byte picks."""
    sel, body = h.split(data)
    mode = sel & 3
    if mode == 3:
        _answers(body)
        return
    if sel & 16:
        third = len(body) // 3
        body = body[:third] + body[third : 2 * third] * 64 + body[2 * third :]
    _readings(_LAYOUTS[mode], (sel >> 2) & 3 | (sel >> 5) << 3, body)


if __name__ == "__main__":
    h.run("dcs", one_input)
