"""Fuzz Modbus: register decoding of every data type and order, and the CSV/JSON point lists.

Input: one selector byte, then the payload. Bit 0 picks register decoding (payload = register
words, big-endian, the rest of the selector picks type, orders, scale) or point-list parsing
(bit 1: CSV or JSON); parsed points then decode registers cut from the same payload.
"""

from __future__ import annotations

import struct

from bench.fuzz import _harness as h

with h.instrumented():
    from custom_components.meterlink.protocols.modbus import codec
    from custom_components.meterlink.protocols.modbus.models import (
        ByteOrder,
        DataType,
        ModbusPoint,
        Table,
        WordOrder,
    )
    from custom_components.meterlink.protocols.modbus.pointlist import (
        parse_point_list_csv,
        parse_point_list_json,
    )

_TYPES = tuple(DataType)
_SCALES = (1.0, 0.001, -10.0, 1e300)


def _words(payload: bytes) -> list[int]:
    """Big-endian 16-bit words of ``payload`` (a response's register values)."""
    return list(struct.unpack(f">{len(payload) // 2}H", payload[: len(payload) // 2 * 2]))


def _decode(point: ModbusPoint, words: list[int]) -> None:
    """Decode ``point`` from its registers and write the value back (as the number entities do)."""
    registers = words[: point.register_count]
    value = h.call(codec.decode_registers, point, registers)
    if value is None:
        return
    h.call(codec.encode_value, point, value, current=registers[0] if registers else None)
    if point.data_type is DataType.BIT or point.table.is_bit_table:
        h.call(codec.encode_bit, point, value)


def _registers(sel: int, payload: bytes) -> None:
    """One point built from the selector, decoded from the payload's words."""
    data_type = _TYPES[(sel >> 1) % len(_TYPES)]
    words = _words(payload)
    point = h.call(
        ModbusPoint,
        key="fuzz",
        unit_id=1,
        table=Table.HOLDING_REGISTER,
        address=0,
        data_type=data_type,
        count=max(1, len(words)) if data_type is DataType.STRING else None,
        bit=(sel >> 5) & 15 if data_type is DataType.BIT else None,
        byte_order=ByteOrder.LITTLE if sel & 0x40 else ByteOrder.BIG,
        word_order=WordOrder.LITTLE if sel & 0x80 else WordOrder.BIG,
        scale=_SCALES[(sel >> 5) & 3],
        precision=(sel >> 4) % 4 or None,
    )
    if point is not None:
        _decode(point, words)
        _decode(point, [-1, *words])  # a value outside 0..65535 must be a typed error
    h.call(codec.bytes_to_registers, payload, byte_order=ByteOrder.BIG, word_order=WordOrder.LITTLE)


def _point_list(sel: int, payload: bytes) -> None:
    """Parse a point list, then decode each good point from the payload's words."""
    text = payload.decode("utf-8", "replace")
    parse = parse_point_list_json if sel & 2 else parse_point_list_csv
    result = h.call(parse, text, default_unit_id=1 if sel & 4 else None)
    if result is None:
        return
    h.call(result.raise_for_errors)
    words = _words(payload)
    for point in result.points[:16]:
        _decode(point, (words + [0] * point.register_count)[: point.register_count])


def one_input(data: bytes) -> None:
    """Run one input through the path its selector byte picks."""
    sel, payload = h.split(data)
    if sel & 1:
        _registers(sel, payload)
    else:
        _point_list(sel, payload)


if __name__ == "__main__":
    h.run("modbus", one_input, max_len=2048)  # point lists of ~30 rows; longer only slows it
