"""Sans-I/O IEC 62056-21 messages for the optical probe's switch to HDLC (protocol mode E)."""

from __future__ import annotations

from dataclasses import dataclass
import string
from typing import TYPE_CHECKING

from .errors import DlmsFramingError

if TYPE_CHECKING:
    from collections.abc import Iterator

# IEC 62056-21 clause 6.3.1: request message "/ ? Device address ! CR LF".
_SIGN_ON_START = b"/?"
_SIGN_ON_END = b"!\r\n"
_MAX_ADDRESS = 32
_ADDRESS_CHARS = frozenset(string.ascii_letters + string.digits + " ")
# IEC 62056-21 clause 6.3.2: identification message "/ MMM Z [\W] Ident CR LF",
# MMM = manufacturer's three letters, Z = baud rate character, Ident at most 16 characters.
_MAX_IDENT = 16
_MAX_LINE = 1 + 3 + 1 + 2 + _MAX_IDENT + 2
# IEC 62056-21 clause 6.3.14 (modes C and E): baud rate characters; mode B uses 'A'..'I'.
BAUD_RATES_MODE_C = {
    "0": 300,
    "1": 600,
    "2": 1200,
    "3": 2400,
    "4": 4800,
    "5": 9600,
    "6": 19200,
}
BAUD_RATES_MODE_B = {
    "A": 600,
    "B": 1200,
    "C": 2400,
    "D": 4800,
    "E": 9600,
    "F": 19200,
}
# IEC 62056-21 clause 6.3.3 / Annex E: acknowledgement/option select message
# "ACK V Z Y CR LF"; V = '2' (HDLC protocol procedure), Y = '2' (binary mode, HDLC).
ACK = 0x06
PROTOCOL_CONTROL_HDLC = "2"
MODE_CONTROL_BINARY = "2"
# IEC 62056-21 Annex E: enhanced capability character "\2" announces protocol mode E.
_ENHANCED_MARK = "\\"
_MODE_E_CAPABILITY = "2"
# The sign-on happens at 300 baud 7E1 before switching to the agreed rate with 8N1.
SIGN_ON_BAUD = 300


@dataclass(frozen=True, kw_only=True, slots=True)
class ModeEIdentification:
    """A parsed identification message."""

    manufacturer: str
    baud_char: str
    baud_rate: int | None
    enhanced: str | None
    identification: str

    @property
    def supports_mode_e(self) -> bool:
        r"""True when the meter announced mode E ("\\2")."""
        return self.enhanced == _MODE_E_CAPABILITY

    @property
    def fast_reaction(self) -> bool:
        """True when the third manufacturer letter is lower case (20 ms reaction time)."""
        return self.manufacturer[2].islower()


def encode_sign_on(address: str = "") -> bytes:
    """Return the request message, optionally addressed to one device."""
    if len(address) > _MAX_ADDRESS or not set(address) <= _ADDRESS_CHARS:
        msg = f"IEC 62056-21 device address {address!r} is not up to 32 letters/digits"
        raise DlmsFramingError(msg)
    return _SIGN_ON_START + address.encode("ascii") + _SIGN_ON_END


def baud_rate_for(baud_char: str) -> int | None:
    """Return the baud rate a mode C/E (or mode B) baud character stands for."""
    return BAUD_RATES_MODE_C.get(baud_char) or BAUD_RATES_MODE_B.get(baud_char)


def encode_ack_mode_e(baud_char: str) -> bytes:
    """Return the option select message switching to HDLC (mode E) at ``baud_char``."""
    if baud_char not in BAUD_RATES_MODE_C:
        msg = f"baud rate character {baud_char!r} is not one of 0..6 (modes C/E)"
        raise DlmsFramingError(msg)
    text = PROTOCOL_CONTROL_HDLC + baud_char + MODE_CONTROL_BINARY + "\r\n"
    return bytes([ACK]) + text.encode("ascii")


def encode_identification(ident: ModeEIdentification) -> bytes:
    """Return the identification message a meter sends (used by the simulator)."""
    enhanced = "" if ident.enhanced is None else _ENHANCED_MARK + ident.enhanced
    text = "/" + ident.manufacturer + ident.baud_char + enhanced + ident.identification + "\r\n"
    return text.encode("ascii")


def parse_identification(line: bytes) -> ModeEIdentification:
    """Parse one identification message (CR LF included)."""
    if not line.endswith(b"\r\n"):
        msg = "IEC 62056-21 identification does not end with CR LF"
        raise DlmsFramingError(msg, snippet=line[-16:])
    try:
        text = line[:-2].decode("ascii")
    except UnicodeDecodeError as err:
        msg = "IEC 62056-21 identification contains non-ASCII bytes"
        raise DlmsFramingError(msg, snippet=line[:32]) from err
    if not text.startswith("/") or len(text) < 5:  # noqa: PLR2004
        msg = "IEC 62056-21 identification must start with '/' and three letters + baud char"
        raise DlmsFramingError(msg, snippet=line[:32])
    manufacturer = text[1:4]
    if not all(char.isalpha() for char in manufacturer):
        msg = f"IEC 62056-21 manufacturer id {manufacturer!r} is not three letters"
        raise DlmsFramingError(msg, snippet=line[:32])
    baud_char = text[4]
    baud = baud_rate_for(baud_char)
    if baud is None and baud_char not in string.digits:
        msg = f"IEC 62056-21 baud rate character {baud_char!r} is not defined"
        raise DlmsFramingError(msg, snippet=line[:32])
    rest = text[5:]
    enhanced = None
    if rest.startswith(_ENHANCED_MARK):
        if len(rest) < 2:  # noqa: PLR2004
            msg = "IEC 62056-21 enhanced identification '\\' has no capability character"
            raise DlmsFramingError(msg, snippet=line[:32])
        enhanced, rest = rest[1], rest[2:]
    if len(rest) > _MAX_IDENT or not rest.isprintable() or "/" in rest or "!" in rest:
        msg = f"IEC 62056-21 identification {rest!r} is not up to 16 printable characters"
        raise DlmsFramingError(msg, snippet=line[:32])
    return ModeEIdentification(
        manufacturer=manufacturer,
        baud_char=baud_char,
        baud_rate=baud,
        enhanced=enhanced,
        identification=rest,
    )


class ModeELineDecoder:
    """Split the 300-baud byte stream into identification messages; fed arbitrary chunks.

    Optical probes often echo what was sent, so an echoed request ("/?...!") is skipped.
    Parity bits are stripped (7E1 read as 8N1 still works).
    """

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes (parity bit cleared)."""
        self._buffer += bytes(byte & 0x7F for byte in data)

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line (a line without LF is refused past 57 bytes)."""
        return len(self._buffer)

    def identifications(self) -> Iterator[ModeEIdentification]:
        """Yield every complete identification message; errors propagate."""
        while (ident := self.next_identification()) is not None:
            yield ident

    def next_identification(self) -> ModeEIdentification | None:
        """Return the next identification, None if incomplete; raise on a malformed line."""
        buf = self._buffer
        while True:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > _MAX_LINE + _MAX_ADDRESS:
                    snippet = bytes(buf[:32])
                    buf.clear()
                    msg = f"IEC 62056-21 line longer than {_MAX_LINE} bytes without LF"
                    raise DlmsFramingError(msg, snippet=snippet)
                return None
            line = bytes(buf[: end + 1])
            del buf[: end + 1]
            start = line.find(b"/")
            if start < 0:
                msg = "IEC 62056-21 line without '/' start character"
                raise DlmsFramingError(msg, snippet=line[:32])
            line = line[start:]
            if line.startswith(_SIGN_ON_START):
                continue  # echo of our own request
            return parse_identification(line)
