"""Sans-I/O RSCP codec: data items, frames with optional CRC-32, and chunk-fed decoders.

Layouts (fact sheet sections 1 and 2; go-rscp ``rscp/constants.go``; E3/DC's SDK header
``RscpTypes.h`` as shipped in pvtom/rscp2mqtt): a frame is an 18-byte
header (magic ``E3 DC``, control word, timestamp u64 seconds + u32 nanoseconds, u16 data length),
the data section (concatenated items) and, if the control word's CRC flag is set, a CRC-32
(zlib) over header + data. An item is a 7-byte header (u32 tag, u8 type, u16 length) and the
value; containers hold further items. Everything is little-endian. Nothing here touches a
socket or a clock: callers pass timestamps in and feed whatever bytes arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import struct
from typing import TYPE_CHECKING, Any, Final, NamedTuple, NoReturn
import zlib

from .cipher import BLOCK_SIZE, RscpCipher
from .errors import RscpCrcError, RscpProtocolError
from .tags import RscpErrorCode, RscpType, tag_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MAGIC: Final = b"\xe3\xdc"  # fact sheet 1: bytes E3 DC (LE u16 0xDCE3, go-rscp RSCP_MAGIC)
CTRL_VERSION_MASK: Final = 0x0F00  # go-rscp RSCP_CTRL_BIT_MASK_VERSION (ctrl read as LE u16)
CTRL_VERSION_1: Final = 0x0100  # go-rscp RSCP_VERSION_1_0 << RSCP_FLAG_BIT_VERSION
CTRL_CRC_FLAG: Final = 0x1000  # go-rscp RSCP_CTRL_BIT_MASK_CRC
CTRL_RESERVED_MASK: Final = 0xE0FF  # go-rscp: every other bit reserved, must be 0
HEADER_SIZE: Final = 18  # fact sheet 1: 2 + 2 + 12 + 2
CRC_SIZE: Final = 4  # fact sheet 1
ITEM_HEADER_SIZE: Final = 7  # fact sheet 2: u32 tag + u8 type + u16 length
MAX_DATA_SIZE: Final = 0xFFFF  # go-rscp RSCP_FRAME_MAX_DATA_SIZE
MAX_FRAME_SIZE: Final = HEADER_SIZE + MAX_DATA_SIZE + CRC_SIZE
MAX_DEPTH: Final = 32  # our limit on container nesting, so hostile input cannot recurse deeply
SNIPPET: Final = 48  # bytes of offending input kept on a protocol error

_FRAME_HEADER = struct.Struct("<2sHQIH")  # E3/DC SDK RscpTypes.h SRscpFrameHeader
_ITEM_HEADER = struct.Struct("<IBH")
_CRC = struct.Struct("<I")
_TIMESTAMP = struct.Struct("<QI")  # E3/DC SDK RscpTypes.h SRscpTimestamp: u64 s, u32 ns

# Fact sheet 2 table: fixed value sizes and their struct formats.
_FIXED: Final[dict[RscpType, struct.Struct]] = {
    RscpType.BOOL: struct.Struct("<B"),
    RscpType.CHAR8: struct.Struct("<b"),
    RscpType.UCHAR8: struct.Struct("<B"),
    RscpType.INT16: struct.Struct("<h"),
    RscpType.UINT16: struct.Struct("<H"),
    RscpType.INT32: struct.Struct("<i"),
    RscpType.UINT32: struct.Struct("<I"),
    RscpType.INT64: struct.Struct("<q"),
    RscpType.UINT64: struct.Struct("<Q"),
    RscpType.FLOAT32: struct.Struct("<f"),
    RscpType.DOUBLE64: struct.Struct("<d"),
}
_TYPE_BY_BYTE: Final[dict[int, RscpType]] = {int(t): t for t in RscpType}
_INT_TYPES: Final = frozenset(
    {
        RscpType.CHAR8,
        RscpType.UCHAR8,
        RscpType.INT16,
        RscpType.UINT16,
        RscpType.INT32,
        RscpType.UINT32,
        RscpType.INT64,
        RscpType.UINT64,
    }
)
_ERROR_VALUE_MAX: Final = 8
_RAW_TYPES: Final = frozenset({RscpType.BYTEARRAY, RscpType.BITFIELD})


@dataclass(frozen=True, slots=True)
class RscpTimestamp:
    """An RSCP timestamp: seconds since the Unix epoch and nanoseconds."""

    seconds: int
    nanoseconds: int = 0

    def as_float(self) -> float:
        """Return the timestamp as float seconds."""
        return self.seconds + self.nanoseconds / 1e9


type RscpValue = bool | int | float | str | bytes | RscpTimestamp | tuple[RscpItem, ...] | None


class RscpItem(NamedTuple):
    """One RSCP data item: tag, type and value (a tuple of items for containers).

    A NamedTuple rather than a frozen dataclass: items are the codec's hot path (hundreds per
    reply) and tuple construction is several times cheaper; it is just as immutable.
    """

    tag: int
    type: RscpType
    value: RscpValue = None

    @property
    def name(self) -> str:
        """The tag's name, or ``<NAMESPACE>_0x...`` for tags this table does not know."""
        return tag_name(self.tag)

    @property
    def is_error(self) -> bool:
        """True for an item of type ERROR (the device could not answer this tag)."""
        return self.type is RscpType.ERROR

    @property
    def children(self) -> tuple[RscpItem, ...]:
        """The items inside a container (empty for any other type)."""
        value = self.value
        return value if self.type is RscpType.CONTAINER and isinstance(value, tuple) else ()

    def find(self, tag: int) -> RscpItem | None:
        """Return the first direct child with ``tag``, or None."""
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def find_all(self, tag: int) -> list[RscpItem]:
        """Return every direct child with ``tag``."""
        return [child for child in self.children if child.tag == tag]

    def get(self, tag: int) -> RscpValue:
        """Return the value of the first child with ``tag``; None if missing or an error."""
        child = self.find(tag)
        if child is None or child.type is RscpType.ERROR:
            return None
        return child.value


def item(tag: int, rscp_type: RscpType = RscpType.NONE, value: RscpValue = None) -> RscpItem:
    """Build an item (shorthand used by the request builders)."""
    return RscpItem(tag, rscp_type, value)


def container(tag: int, *children: RscpItem) -> RscpItem:
    """Build a container item from its children."""
    return RscpItem(tag, RscpType.CONTAINER, tuple(children))


def error_name(code: int) -> str:
    """Name an RSCP error code, tolerating codes newer than our table."""
    try:
        return RscpErrorCode(code).name
    except ValueError:
        return f"0x{code:X}"


# Items: encode ---------------------------------------------------------------------------------


def _encode_variable(entry: RscpItem, depth: int) -> bytes | None:  # noqa: PLR0911  # one branch per type
    """Encode the value of a non-fixed-size item; None if the value does not suit the type."""
    rscp_type, value = entry.type, entry.value
    if rscp_type is RscpType.NONE:
        return b""
    if rscp_type is RscpType.CONTAINER:
        if depth >= MAX_DEPTH:
            msg = f"{entry.name}: containers nested deeper than {MAX_DEPTH}"
            raise RscpProtocolError(msg)
        return b"".join(_encode_item(child, depth + 1) for child in entry.children)
    if rscp_type is RscpType.STRING and isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if rscp_type is RscpType.TIMESTAMP and isinstance(value, RscpTimestamp):
        return _TIMESTAMP.pack(value.seconds, value.nanoseconds)
    if rscp_type is RscpType.ERROR and isinstance(value, int):
        return _CRC.pack(value)
    if isinstance(value, (bytes, bytearray)) and rscp_type in _RAW_TYPES:
        return bytes(value)
    return None


def _encode_item(entry: RscpItem, depth: int = 0) -> bytes:
    """Encode one item with its 7-byte header."""
    fixed = _FIXED.get(entry.type)
    try:
        if fixed is not None:
            value = entry.value
            payload = fixed.pack(int(bool(value)) if entry.type is RscpType.BOOL else value)
        else:
            encoded = _encode_variable(entry, depth)
            if encoded is None:
                msg = f"{entry.name}: value {entry.value!r} is not valid for type {entry.type.name}"
                raise RscpProtocolError(msg)
            payload = encoded
    except (struct.error, TypeError, UnicodeError, OverflowError) as err:
        msg = f"{entry.name}: value {entry.value!r} does not fit type {entry.type.name}: {err}"
        raise RscpProtocolError(msg) from err
    if len(payload) > MAX_DATA_SIZE - ITEM_HEADER_SIZE:
        msg = f"{entry.name}: value of {len(payload)} bytes exceeds the RSCP item limit"
        raise RscpProtocolError(msg)
    return _ITEM_HEADER.pack(entry.tag & 0xFFFFFFFF, int(entry.type), len(payload)) + payload


def encode_items(items: Iterable[RscpItem]) -> bytes:
    """Encode items into an RSCP data section (repeated polls hit a small cache)."""
    key = tuple(items)
    try:
        return _encode_cached(key)
    except TypeError:  # an unhashable value (bytearray): encode without the cache
        return b"".join(_encode_item(entry) for entry in key)


@functools.lru_cache(maxsize=64)
def _encode_cached(items: tuple[RscpItem, ...]) -> bytes:
    """Encode a tuple of items; polls send the same requests again and again."""
    return b"".join(_encode_item(entry) for entry in items)


# Items: decode ---------------------------------------------------------------------------------


def _bad_length(tag: int, rscp_type: RscpType, want: str, got: int, snippet: bytes) -> NoReturn:
    """Raise the error for a value whose length does not suit its type."""
    msg = f"{tag_name(tag)}: type {rscp_type.name} needs {want} bytes, item says {got}"
    raise RscpProtocolError(msg, snippet=snippet[:SNIPPET])


def _decode_variable(tag: int, rscp_type: RscpType, value: bytes) -> RscpValue:
    """Decode the value bytes of a variable-size, non-container item."""
    if rscp_type is RscpType.STRING:
        return value.decode("utf-8", "surrogateescape")
    if rscp_type in _RAW_TYPES:
        return value
    if rscp_type is RscpType.NONE:
        if value:
            _bad_length(tag, rscp_type, "0", len(value), value)
        return None
    if rscp_type is RscpType.TIMESTAMP:
        if len(value) != _TIMESTAMP.size:
            _bad_length(tag, rscp_type, "12", len(value), value)
        seconds, nanoseconds = _TIMESTAMP.unpack(value)
        return RscpTimestamp(seconds, nanoseconds)
    # ERROR: a little-endian error code (fact sheet 2: u32; tolerate 1..8 bytes like pye3dc)
    if not 0 < len(value) <= _ERROR_VALUE_MAX:
        _bad_length(tag, rscp_type, "1..8", len(value), value)
    return int.from_bytes(value, "little")


_new_item = tuple.__new__  # builds RscpItem without the NamedTuple __new__ call (hot path)
_CONTAINER_BYTE: Final = int(RscpType.CONTAINER)
# Per type byte (list index beats dict lookup): for fixed-size types, one struct call unpacks
# header and value together ("?" reads BOOL as Python bool, any non-zero byte is true).
type _FixedItem = tuple[Callable[..., tuple[Any, ...]], int, RscpType]


def _fixed_items() -> list[_FixedItem | None]:
    """Per type byte: (unpack header+value, value size, type) for fixed-size types."""
    table: list[_FixedItem | None] = [None] * 256
    for rscp_type, layout in _FIXED.items():
        value_format = "?" if rscp_type is RscpType.BOOL else layout.format[1:]
        unpack = struct.Struct("<IBH" + value_format).unpack_from
        table[int(rscp_type)] = (unpack, layout.size, rscp_type)
    return table


_FIXED_ITEM: Final = _fixed_items()
_TYPE_LIST: Final[list[RscpType | None]] = [_TYPE_BY_BYTE.get(b) for b in range(256)]


def _decode_items(data: bytes, start: int, end: int, depth: int) -> list[RscpItem]:  # noqa: C901
    """Decode consecutive items in ``data[start:end]`` (containers recurse on the same buffer)."""
    out: list[RscpItem] = []
    append = out.append
    pos = start
    unpack_header = _ITEM_HEADER.unpack_from
    types = _TYPE_LIST
    fixed_items = _FIXED_ITEM
    value: RscpValue
    while pos < end:
        if end - pos < ITEM_HEADER_SIZE:
            msg = f"{end - pos} stray bytes at offset {pos} where a 7-byte item header belongs"
            raise RscpProtocolError(msg, snippet=data[pos:end][:SNIPPET])
        fixed = fixed_items[data[pos + 4]]
        if fixed is not None:
            unpack, size, rscp_type = fixed
            value_end = pos + ITEM_HEADER_SIZE + size
            if value_end <= end:
                tag, _type_byte, length, value = unpack(data, pos)
                if length == size:
                    append(_new_item(RscpItem, (tag, rscp_type, value)))
                    pos = value_end
                    continue
        tag, type_byte, length = unpack_header(data, pos)
        value_start = pos + ITEM_HEADER_SIZE
        value_end = value_start + length
        if value_end > end:
            msg = (
                f"{tag_name(tag)} at offset {pos}: value length {length} runs past its "
                f"enclosing data ({end - value_start} bytes left)"
            )
            raise RscpProtocolError(msg, snippet=data[pos:end][:SNIPPET])
        if fixed is not None:
            _bad_length(tag, fixed[2], str(fixed[1]), length, data[pos:value_end])
        variable_type = types[type_byte]
        if variable_type is None:
            msg = f"{tag_name(tag)} at offset {pos}: unknown data type 0x{type_byte:02X}"
            raise RscpProtocolError(msg, snippet=data[pos:value_end][:SNIPPET])
        if type_byte == _CONTAINER_BYTE:
            if depth >= MAX_DEPTH:
                msg = f"{tag_name(tag)}: containers nested deeper than {MAX_DEPTH}"
                raise RscpProtocolError(msg, snippet=data[value_start:value_end][:SNIPPET])
            value = tuple(_decode_items(data, value_start, value_end, depth + 1))
        else:
            value = _decode_variable(tag, variable_type, data[value_start:value_end])
        append(_new_item(RscpItem, (tag, variable_type, value)))
        pos = value_end
    return out


def decode_items(data: bytes) -> list[RscpItem]:
    """Decode an RSCP data section into items."""
    return _decode_items(bytes(data), 0, len(data), 0)


# --------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class RscpFrame:
    """A decoded RSCP frame: its items, timestamp and whether it carried a CRC."""

    items: tuple[RscpItem, ...]
    seconds: int = 0
    nanoseconds: int = 0
    crc: bool = True

    def find(self, tag: int) -> RscpItem | None:
        """Return the first top-level item with ``tag``, or None."""
        for entry in self.items:
            if entry.tag == tag:
                return entry
        return None


def encode_frame(
    items: Iterable[RscpItem], *, seconds: int = 0, nanoseconds: int = 0, crc: bool = True
) -> bytes:
    """Encode items into one RSCP frame (header, data, optional CRC-32)."""
    data = encode_items(items)
    if len(data) > MAX_DATA_SIZE:
        msg = f"frame data of {len(data)} bytes exceeds the RSCP limit of {MAX_DATA_SIZE}"
        raise RscpProtocolError(msg)
    ctrl = CTRL_VERSION_1 | (CTRL_CRC_FLAG if crc else 0)
    frame = _FRAME_HEADER.pack(MAGIC, ctrl, seconds, nanoseconds, len(data)) + data
    return frame + _CRC.pack(zlib.crc32(frame)) if crc else frame


def frame_size(header: bytes | bytearray) -> int:
    """Return the total size of the frame whose 18-byte header is given, validating it."""
    if len(header) < HEADER_SIZE:
        msg = f"frame header needs {HEADER_SIZE} bytes, got {len(header)}"
        raise RscpProtocolError(msg, snippet=bytes(header[:SNIPPET]))
    magic, ctrl, _seconds, _nanoseconds, length = _FRAME_HEADER.unpack_from(header, 0)
    if magic != MAGIC:
        msg = f"frame magic is {magic.hex(' ')}, expected e3 dc"
        raise RscpProtocolError(msg, snippet=bytes(header[:SNIPPET]))
    if ctrl & CTRL_VERSION_MASK != CTRL_VERSION_1 or ctrl & CTRL_RESERVED_MASK:
        msg = f"frame control word 0x{ctrl:04X} is not protocol version 1 (0x0100/0x1100)"
        raise RscpProtocolError(msg, snippet=bytes(header[:SNIPPET]))
    size: int = HEADER_SIZE + length + (CRC_SIZE if ctrl & CTRL_CRC_FLAG else 0)
    return size


def decode_frame(data: bytes) -> RscpFrame:
    """Decode exactly one complete frame."""
    size = frame_size(data)
    if len(data) != size:
        msg = f"frame is {size} bytes by its header, got {len(data)}"
        raise RscpProtocolError(msg, snippet=bytes(data[:SNIPPET]))
    _magic, ctrl, seconds, nanoseconds, length = _FRAME_HEADER.unpack_from(data, 0)
    has_crc = bool(ctrl & CTRL_CRC_FLAG)
    data = bytes(data)
    if has_crc:
        expected = _CRC.unpack_from(data, HEADER_SIZE + length)[0]
        actual = zlib.crc32(memoryview(data)[: HEADER_SIZE + length])
        if expected != actual:
            msg = f"frame CRC-32 is 0x{expected:08X}, computed 0x{actual:08X}"
            raise RscpCrcError(msg, snippet=data[:SNIPPET])
    items = tuple(_decode_items(data, HEADER_SIZE, HEADER_SIZE + length, 0))
    return RscpFrame(items, seconds, nanoseconds, has_crc)


def _check_padding(padding: bytearray, size: int) -> None:
    """Raise unless the block padding after a frame is all zero bytes (fact sheet 4)."""
    if padding.count(0) != len(padding):
        msg = f"padding after a {size}-byte frame is not zero"
        raise RscpProtocolError(msg, snippet=bytes(padding[:SNIPPET]))


class RscpFrameDecoder:
    """Chunk-fed decoder of plaintext RSCP frames.

    ``block_size`` = 32 for a decrypted RSCP stream (each frame is zero-padded to the cipher
    block), 1 for unpadded frames. After a protocol error the buffer is dropped: the stream has
    lost its framing and the connection should be closed.
    """

    __slots__ = ("_block", "_buffer")

    def __init__(self, *, block_size: int = 1) -> None:
        """Start with an empty buffer."""
        self._block = block_size
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[RscpFrame]:
        """Add bytes and return every frame they complete."""
        self._buffer += data
        frames: list[RscpFrame] = []
        buffer = self._buffer
        try:
            while len(buffer) >= HEADER_SIZE:
                size = frame_size(buffer)
                padded = -(-size // self._block) * self._block
                if len(buffer) < padded:
                    break
                frame = decode_frame(bytes(buffer[:size]))
                _check_padding(buffer[size:padded], size)
                del buffer[:padded]
                frames.append(frame)
        except RscpProtocolError:
            buffer.clear()
            raise
        return frames


class RscpStreamDecoder:
    """Chunk-fed decoder of an encrypted RSCP byte stream (the receiving half of a connection).

    Ciphertext is decrypted 32-byte block by block as it arrives (the CBC chain continues across
    reads), then frames are cut from the plaintext by their length fields.
    """

    __slots__ = ("_cipher", "_frames", "_pending")

    def __init__(self, cipher: RscpCipher) -> None:
        """Decrypt with ``cipher``'s receiving chain."""
        self._cipher = cipher
        self._pending = bytearray()
        self._frames = RscpFrameDecoder(block_size=BLOCK_SIZE)

    @property
    def buffered(self) -> int:
        """Bytes (cipher and plain) held back waiting for the rest of a frame."""
        return len(self._pending) + self._frames.buffered

    def feed(self, ciphertext: bytes) -> list[RscpFrame]:
        """Add received ciphertext and return every frame it completes."""
        self._pending += ciphertext
        whole = len(self._pending) - len(self._pending) % BLOCK_SIZE
        if not whole:
            return []
        chunk = bytes(self._pending[:whole])
        del self._pending[:whole]
        return self._frames.feed(self._cipher.decrypt(chunk))
