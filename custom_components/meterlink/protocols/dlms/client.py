"""asyncio DLMS/COSEM client: gurux_dlms builds and parses APDUs, all I/O is ours."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
import contextlib
from dataclasses import dataclass
import datetime as dt
from enum import StrEnum
import io
import logging
import struct
import termios
from typing import TYPE_CHECKING, Any, Self

from gurux_dlms import (  # type: ignore[import-untyped]
    GXByteBuffer,
    GXDateTime,
    GXDLMSException,
    GXReplyData,
)
from gurux_dlms.enums import (  # type: ignore[import-untyped]
    Authentication,
    Conformance,
    InterfaceType,
    ObjectType,
    Security,
)
from gurux_dlms.objects import (  # type: ignore[import-untyped]
    GXDLMSCaptureObject,
    GXDLMSClock,
    GXDLMSProfileGeneric,
)
from gurux_dlms.secure import GXDLMSSecureClient  # type: ignore[import-untyped]

from .axdr import (
    CosemDateTime,
    DataItem,
    DataTag,
    decode_data,
    decode_data_exact,
    decode_length,
    obis_from_str,
    obis_to_str,
    unit_name,
)
from .cipher import (
    AUTHENTICATION_KEY,
    BLOCK_CIPHER_KEY,
    GLO_RESPONSE_TAGS,
    TAG_GLO_GET_REQUEST,
    decrypt_apdu,
    encrypt_service_apdu,
    parse_service_ciphering,
)
from .errors import (
    DlmsAccessDeniedError,
    DlmsAssociationRefusedError,
    DlmsAuthenticationError,
    DlmsConnectionError,
    DlmsDataError,
    DlmsDecipherError,
    DlmsError,
    DlmsIntegrityError,
    DlmsObjectUndefinedError,
    DlmsProtocolError,
    DlmsReplyLostError,
    DlmsResponseError,
    DlmsTimeoutError,
    DlmsUnsupportedError,
)
from .hdlc import (
    HDLC_DEFAULT_MAX_INFO,
    HDLC_MAX_LENGTH,
    LLC_REQUEST,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    HdlcFrameKind,
    HdlcReassembler,
    encode_hdlc_frame,
    segment_information,
    strip_llc,
)
from .mode_e import (
    SIGN_ON_BAUD,
    ModeELineDecoder,
    encode_ack_mode_e,
    encode_sign_on,
)
from .models import (
    DlmsAttributeAccess,
    DlmsObjectInfo,
    DlmsProfileColumn,
    DlmsProfileRow,
    DlmsReading,
    ReadingValue,
)
from .push import _scaled
from .wrapper import WRAPPER_DEFAULT_PORT, WrapperDecoder, WrapperFrame, encode_wrapper_frame

if TYPE_CHECKING:
    from custom_components.meterlink.protocols.capture import FrameCallback

_LOGGER = logging.getLogger(__name__)

# Blue Book: interface classes whose attribute holds a scaler_unit (class: (value, scaler_unit)).
_SCALED_CLASSES = {3: (2, 3), 4: (2, 3), 5: (3, 4)}
# Green Book Data-Access-Result codes mapped to errors.
_DAR_READ_WRITE_DENIED = 3
_DAR_OBJECT_UNDEFINED = 4
_DAR_SCOPE_OF_ACCESS_VIOLATED = 13
# Green Book AARE acse-service-user diagnostics meaning a wrong credential.
_DIAGNOSTIC_AUTHENTICATION_FAILURE = 13
# Green Book xDLMS tags and GET-Response choices used by our GET handling.
_TAG_GET_REQUEST = 0xC0
_TAG_GET_RESPONSE = 0xC4
_TAG_EXCEPTION_RESPONSE = 0xD8
_EXCEPTION_STATE_ERROR = 0x01
# IEC 62056-21 mode E: time between sending the ACK option select and switching the port.
_MODE_E_SWITCH_DELAY_S = 0.5
_GET_NORMAL = 1
_GET_NEXT = 2
_GET_WITH_BLOCK = 2
_GET_WITH_LIST = 3
_GET_ASSEMBLED = 0xFF  # internal marker: body reassembled from blocks
# Our limits on one GET block transfer, so a meter that never sends its last block (or sends
# empty or repeated blocks) cannot make us loop or buffer without end. A year of 15-minute
# profile rows with five columns is about 1.5 MB; 16 384 blocks carry 4 MiB at a 256-byte PDU.
MAX_BLOCK_TRANSFER_SIZE = 4 << 20
MAX_BLOCK_TRANSFER_BLOCKS = 16384
_BLOCK_HEADER = 10  # tag, choice, invoke, last, block number (4), result, first data byte
# IEC 62056-46 6.4.4.4.3.2 HDLC parameter ids (maximum information field length tx/rx).
_HDLC_MAX_INFO_TX = 0x05
_HDLC_MAX_INFO_RX = 0x06
# Blue Book interface classes.
_CLASS_CLOCK = 8
_CLASS_DISCONNECT_CONTROL = 70
_PLAIN_RESPONSES = frozenset({b"\xc4", b"\xc5", b"\xc7"})  # GET/SET/ACTION-Response
PUBLIC_CLIENT = 16  # Green Book 4.7.3: public client, always reachable without security
ASSOCIATION_LN = "0.0.40.0.0.255"
DISCONNECT_CONTROL = "0.0.96.3.10.255"
CLOCK = "0.0.1.0.0.255"
# Names of the secrets errors point at.
PASSWORD_SECRET = "password"  # noqa: S105 - the name of a secret, not one


class DlmsTransport(StrEnum):
    """How the meter is reached."""

    WRAPPER = "wrapper"  # IEC 62056-47 over TCP
    HDLC_TCP = "hdlc_tcp"  # HDLC through a transparent TCP gateway
    HDLC_SERIAL = "hdlc_serial"  # RS-485 / RS-232, 8N1
    OPTICAL = "optical"  # IEC 62056-21 mode E handshake, then HDLC


class DlmsAuthentication(StrEnum):
    """Association authentication."""

    NONE = "none"
    LOW = "low"
    HIGH_GMAC = "high_gmac"


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsAttributeRef:
    """An attribute to read: OBIS code, interface class and attribute index."""

    obis: str
    class_id: int = 3
    attribute: int = 2


type StreamPair = tuple[asyncio.StreamReader, asyncio.StreamWriter]
type OpenStream = Callable[[], Any]


def _octets_value(raw: bytes) -> ReadingValue:
    """Octet-strings: 12 bytes are a date-time, printable ones text, the rest stay bytes."""
    if len(raw) == 12:  # noqa: PLR2004 - date-time octet-string
        stamp = CosemDateTime.from_bytes(raw).to_datetime()
        if stamp is not None:
            return stamp
    if raw and all(32 <= byte < 127 for byte in raw):  # noqa: PLR2004
        return raw.decode("ascii")
    return raw


def _data_item_value(item: DataItem) -> ReadingValue:
    """Turn one of our decoded Data items into a reading value."""
    value = item.value
    if isinstance(value, CosemDateTime):
        return value.to_datetime()
    if isinstance(value, bytes):
        return _octets_value(value)
    if isinstance(value, tuple):
        return None
    return value


def _check_block(response: bytes, previous: int | None) -> int:
    """Check one GetResponseWithDataBlock header; return its block number.

    Block numbers must count up by one, and the transfer must end within our limits
    (:data:`MAX_BLOCK_TRANSFER_BLOCKS`, :data:`MAX_BLOCK_TRANSFER_SIZE`).
    """
    if len(response) < _BLOCK_HEADER:
        msg = f"data block of {len(response)} bytes is shorter than its header"
        raise DlmsProtocolError(msg, snippet=response[:16])
    number = int.from_bytes(response[4:8], "big")
    if previous is not None and number != previous + 1:
        msg = f"data block {number} arrived after block {previous}"
        raise DlmsProtocolError(msg, snippet=response[:16])
    return number


def _check_block_data(response: bytes, pos: int, size: int, *, blocks: int, total: int) -> None:
    """Refuse a block whose data is cut off, or that takes the transfer past our limits."""
    if size > len(response) - pos:
        msg = f"data block claims {size} bytes, {len(response) - pos} follow"
        raise DlmsProtocolError(msg, snippet=response[:16])
    if total + size > MAX_BLOCK_TRANSFER_SIZE or blocks > MAX_BLOCK_TRANSFER_BLOCKS:
        msg = (
            f"block transfer of {blocks} blocks, {total + size}+ bytes exceeds our limit of "
            f"{MAX_BLOCK_TRANSFER_BLOCKS} blocks, {MAX_BLOCK_TRANSFER_SIZE} bytes"
        )
        raise DlmsProtocolError(msg, snippet=response[:16])


def _raise_for_error(code: int, what: str) -> None:
    """Raise the typed error for a non-zero data-access-result."""
    if not code:
        return
    if code in (_DAR_READ_WRITE_DENIED, _DAR_SCOPE_OF_ACCESS_VIOLATED):
        msg = f"meter denied access to {what} (data-access-result {code})"
        raise DlmsAccessDeniedError(msg, status=code)
    if code == _DAR_OBJECT_UNDEFINED:
        msg = f"meter has no object {what}"
        raise DlmsObjectUndefinedError(msg, status=code)
    msg = f"meter failed {what} (data-access-result {code})"
    raise DlmsResponseError(msg, status=code)


class DlmsClient:
    """One association with one meter; every call is serialised on a lock.

    gurux_dlms builds requests and reassembles replies (HDLC windowing, block transfer,
    ciphering); this class moves the bytes, enforces timeouts, maps errors to the MeterLink
    tree, applies scalers once and reconnects after the meter drops the link.
    """

    def __init__(
        self,
        *,
        transport: DlmsTransport = DlmsTransport.WRAPPER,
        host: str | None = None,
        port: int = WRAPPER_DEFAULT_PORT,
        serial_port: str | None = None,
        baudrate: int = 9600,
        client_address: int = 16,
        server_logical: int = 1,
        server_physical: int | None = None,
        authentication: DlmsAuthentication = DlmsAuthentication.NONE,
        password: bytes | None = None,
        block_cipher_key: bytes | None = None,
        authentication_key: bytes | None = None,
        system_title: bytes = b"MTL00001",
        invocation_counter: int = 0,
        on_invocation_counter: Callable[[int], None] | None = None,
        request_timeout: float = 5.0,
        max_list_items: int = 10,
        invocation_counter_obis: str = "0.0.43.1.0.255",
        on_frame: FrameCallback | None = None,
        open_stream: OpenStream | None = None,
    ) -> None:
        """Describe the meter; nothing is opened until :meth:`connect` or the first call."""
        self.transport = transport
        self.host = host
        self.port = port
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.client_address = client_address
        self.server_logical = server_logical
        self.server_physical = server_physical
        self.authentication = authentication
        self._password = password
        self._block_cipher_key = block_cipher_key
        self._authentication_key = authentication_key
        self.system_title = system_title
        self.invocation_counter = invocation_counter
        self._on_invocation_counter = on_invocation_counter
        self.request_timeout = request_timeout
        self.max_list_items = max_list_items
        self.invocation_counter_obis = invocation_counter_obis
        self._on_frame = on_frame
        self._open_stream = open_stream
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._gx: Any = None
        self._hdlc = HdlcDecoder()
        self._wrapper = WrapperDecoder()
        self._vs = 0
        self._vr = 0
        self._max_info_tx = HDLC_DEFAULT_MAX_INFO
        self._max_info_rx = HDLC_DEFAULT_MAX_INFO
        self._scalers: dict[str, tuple[int, int | None]] = {}
        self.round_trips = 0
        self.connected = False
        self.identification: str | None = None

    async def __aenter__(self) -> Self:
        """Connect when used as an async context manager."""
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        """Release and close."""
        await self.close()

    # -- link --------------------------------------------------------------------------

    @property
    def _uses_hdlc(self) -> bool:
        return self.transport is not DlmsTransport.WRAPPER

    def _server_address(self) -> int:
        if self.transport is DlmsTransport.WRAPPER or self.server_physical is None:
            return self.server_logical
        address: int = GXDLMSSecureClient.getServerAddress(
            self.server_logical, self.server_physical
        )
        return address

    def _new_gurux(self) -> Any:
        auth = {
            DlmsAuthentication.NONE: Authentication.NONE,
            DlmsAuthentication.LOW: Authentication.LOW,
            DlmsAuthentication.HIGH_GMAC: Authentication.HIGH_GMAC,
        }[self.authentication]
        interface = InterfaceType.PDU  # framing is ours (wrapper.py / hdlc.py)
        password = self._password.decode("latin-1") if self._password is not None else None
        client = GXDLMSSecureClient(
            True,  # noqa: FBT003 - gurux's positional useLogicalNameReferencing
            self.client_address,
            self._server_address(),
            auth,
            password,
            interface,
        )
        if self.authentication is DlmsAuthentication.HIGH_GMAC:
            client.ciphering.security = Security.AUTHENTICATION_ENCRYPTION
            client.ciphering.systemTitle = self.system_title
            client.ciphering.blockCipherKey = self._block_cipher_key
            client.ciphering.authenticationKey = self._authentication_key
            client.ciphering.invocationCounter = self.invocation_counter
        self._gx = client
        return client

    async def _open(self) -> StreamPair:
        if self._open_stream is not None:
            pair: StreamPair = await self._open_stream()
            return pair
        if self.transport in (DlmsTransport.WRAPPER, DlmsTransport.HDLC_TCP):
            if self.host is None:
                msg = "no host configured for a TCP transport"
                raise DlmsConnectionError(msg)
            return await asyncio.open_connection(self.host, self.port)
        import serial_asyncio_fast  # noqa: PLC0415 - only needed for serial ports

        if self.serial_port is None:
            msg = "no serial port configured"
            raise DlmsConnectionError(msg)
        if self.transport is DlmsTransport.HDLC_SERIAL:
            hdlc_pair: StreamPair = await serial_asyncio_fast.open_serial_connection(
                url=self.serial_port, baudrate=self.baudrate
            )
            return hdlc_pair
        pair = await serial_asyncio_fast.open_serial_connection(
            url=self.serial_port, baudrate=SIGN_ON_BAUD
        )
        port = getattr(pair[1].transport, "serial", None)
        if port is not None:
            # IEC 62056-21 6.3: the sign-on runs at 300 baud, 7 data bits, even parity. A pty
            # (the simulator's probe) rejects that combination; keep 8N1 there.
            try:
                port.bytesize, port.parity = 7, "E"
            except (OSError, termios.error, ValueError):
                _LOGGER.debug("port %s refused 7E1; signing on with 8N1", self.serial_port)
        await self._mode_e_handshake(*pair)
        return pair

    async def _mode_e_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Sign on at 300 baud, select HDLC (mode E) and switch the port (IEC 62056-21)."""
        writer.write(self._tx(encode_sign_on()))
        await writer.drain()
        lines = ModeELineDecoder()
        while (ident := lines.next_identification()) is None:
            chunk = await reader.read(64)
            if not chunk:
                msg = "optical probe closed during the IEC 62056-21 sign-on"
                raise DlmsConnectionError(msg)
            self._rx(chunk)
            lines.feed(chunk)
        self.identification = ident.manufacturer + ident.identification
        if not ident.supports_mode_e or ident.baud_rate is None:
            msg = f"meter {self.identification!r} does not offer protocol mode E"
            raise DlmsProtocolError(msg, snippet=ident.identification)
        writer.write(self._tx(encode_ack_mode_e(ident.baud_char)))
        await writer.drain()
        port = getattr(writer.transport, "serial", None)
        if port is not None:
            # The 6-byte ACK takes 200 ms on the wire at 300 baud (drain() only empties our
            # buffer) and the meter switches after that; gurux's example waits a full second.
            await asyncio.sleep(_MODE_E_SWITCH_DELAY_S)
            try:
                port.baudrate, port.bytesize, port.parity = ident.baud_rate, 8, "N"
            except (OSError, termios.error, ValueError) as err:
                msg = f"cannot switch {self.serial_port} to {ident.baud_rate} baud 8N1: {err}"
                raise DlmsConnectionError(msg) from err

    def _tx(self, frame: bytes) -> bytes:
        if self._on_frame is not None:
            shown = frame
            for secret in (self._password, self._block_cipher_key, self._authentication_key):
                if secret and secret in shown:
                    shown = shown.replace(secret, b"*" * len(secret))
            self._on_frame("tx", shown)
        return frame

    def _rx(self, frame: bytes) -> None:
        if self._on_frame is not None:
            self._on_frame("rx", frame)

    async def connect(self) -> None:
        """Open the link and establish the association."""
        async with self._lock:
            await self._connect()

    async def _connect(self) -> None:
        """Associate; with ciphering, resynchronise a rejected invocation counter once."""
        try:
            await self._associate()
        except DlmsAssociationRefusedError as err:
            if self.authentication is not DlmsAuthentication.HIGH_GMAC:
                raise
            _LOGGER.debug("ciphered association refused (%s); resynchronising the counter", err)
            await self._resync_invocation_counter()
            try:
                await self._associate()
            except DlmsAssociationRefusedError as again:
                msg = (
                    "the meter refused the ciphered association even with a fresh invocation "
                    "counter: check the block cipher key and the authentication key"
                )
                raise DlmsAuthenticationError(msg, secret=BLOCK_CIPHER_KEY) from again

    async def _resync_invocation_counter(self) -> None:
        """Read the meter's frame counter as the public client and continue above it."""
        public = DlmsClient(
            transport=self.transport,
            host=self.host,
            port=self.port,
            serial_port=self.serial_port,
            baudrate=self.baudrate,
            client_address=PUBLIC_CLIENT,
            server_logical=self.server_logical,
            server_physical=self.server_physical,
            request_timeout=self.request_timeout,
            on_frame=self._on_frame,
            open_stream=self._open_stream,
        )
        async with public:
            reading = await public.read(self.invocation_counter_obis, class_id=1, attribute=2)
        if not isinstance(reading.value, int):
            msg = f"frame counter {self.invocation_counter_obis} is not an integer"
            raise DlmsProtocolError(msg)
        self.invocation_counter = max(self.invocation_counter, reading.value + 1)
        if self._on_invocation_counter is not None:
            self._on_invocation_counter(self.invocation_counter)

    async def _associate(self) -> None:
        await self._drop()
        try:
            async with asyncio.timeout(self.request_timeout):
                self._reader, self._writer = await self._open()
        except TimeoutError as err:
            msg = f"timed out connecting to the meter ({self._where()})"
            raise DlmsTimeoutError(msg) from err
        except OSError as err:
            msg = f"cannot reach the meter ({self._where()}): {err}"
            raise DlmsConnectionError(msg) from err
        self._gx = self._new_gurux()
        self._hdlc, self._wrapper = HdlcDecoder(), WrapperDecoder()
        try:
            if self._uses_hdlc:
                await self._hdlc_connect()
            reply = await self._exchange(self._gurux(self._gx.aarqRequest))
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # gurux prints while deciphering
                    self._gx.parseAareResponse(reply.data)
            except GXDLMSException as err:
                self._association_refused(err)
            except Exception as err:
                msg = f"could not parse the meter's AARE: {err!r}"
                raise DlmsProtocolError(msg) from err
            if self._gx.isAuthenticationRequired:
                reply = await self._exchange(self._gurux(self._gx.getApplicationAssociationRequest))
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        self._gx.parseApplicationAssociationResponse(reply.data)
                except Exception as err:
                    msg = "the meter rejected the HLS authentication: check the keys"
                    raise DlmsAuthenticationError(msg, secret=AUTHENTICATION_KEY) from err
        except BaseException:
            await self._drop()
            raise
        self.connected = True
        self._report_counter()

    async def _hdlc_connect(self) -> None:
        """SNRM/UA link set-up, taking the negotiated information field lengths."""
        try:
            async with asyncio.timeout(self.request_timeout):
                self.round_trips += 1
                ua = await self._hdlc_command(
                    HdlcFrameKind.SNRM, (HdlcFrameKind.UA, HdlcFrameKind.DM)
                )
        except TimeoutError as err:
            msg = "the meter did not answer SNRM"
            raise DlmsTimeoutError(msg) from err
        if ua.kind is HdlcFrameKind.DM:
            msg = "the meter refused the HDLC link (DM)"
            raise DlmsConnectionError(msg)
        self._apply_ua(ua.information)
        self._vs = self._vr = 0

    def _association_refused(self, err: Any) -> None:
        diagnostic = getattr(err, "diagnostic", None)
        reason = str(err).replace("\r\n", " ").strip()
        if diagnostic == _DIAGNOSTIC_AUTHENTICATION_FAILURE:
            msg = f"the meter refused the password: {reason}"
            raise DlmsAuthenticationError(msg, secret=PASSWORD_SECRET) from err
        msg = f"the meter refused the association: {reason}"
        raise DlmsAssociationRefusedError(msg, status=getattr(err, "result", None)) from err

    def _where(self) -> str:
        if self.transport in (DlmsTransport.WRAPPER, DlmsTransport.HDLC_TCP):
            return f"{self.host}:{self.port}"
        return str(self.serial_port)

    async def _drop(self) -> None:
        """Close the stream without a release (link already broken or being replaced)."""
        self.connected = False
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(1):
                    await writer.wait_closed()

    async def close(self) -> None:
        """Release the association (RLRQ, then HDLC DISC) and close; tolerate a dead meter."""
        async with self._lock:
            if self.connected and self._gx is not None:
                with contextlib.suppress(DlmsError):
                    await self._exchange(self._gx.releaseRequest())
                if self._uses_hdlc:
                    with contextlib.suppress(DlmsError, TimeoutError, OSError):
                        async with asyncio.timeout(self.request_timeout):
                            await self._hdlc_command(
                                HdlcFrameKind.DISC, (HdlcFrameKind.UA, HdlcFrameKind.DM)
                            )
            await self._drop()

    # -- link layer (ours) ----------------------------------------------------------------

    def _gurux(self, func: Callable[..., Any], *args: Any) -> Any:
        """Call into gurux, turning its bare exceptions into typed ones."""
        try:
            return func(*args)
        except GXDLMSException as err:
            msg = f"meter answered with an error: {err}"
            raise DlmsResponseError(msg, status=getattr(err, "errorCode", None)) from err
        except DlmsError:
            raise
        except Exception as err:
            msg = f"gurux_dlms could not handle the meter's reply: {err!r}"
            raise DlmsProtocolError(msg) from err

    def _write(self, frame: bytes) -> None:
        if self._writer is None:
            msg = "not connected to the meter"
            raise DlmsConnectionError(msg)
        self._writer.write(self._tx(frame))

    async def _next_frame(self) -> Any:
        """Return the next wrapper or HDLC frame addressed to us; skip malformed bytes."""
        reader = self._reader
        if reader is None:
            msg = "not connected to the meter"
            raise DlmsConnectionError(msg)
        while True:
            try:
                frame: Any = (
                    self._hdlc.next_frame() if self._uses_hdlc else self._wrapper.next_frame()
                )
            except DlmsProtocolError as err:
                _LOGGER.debug("discarding malformed bytes from the meter: %s", err)
                continue
            if frame is not None:
                if self._uses_hdlc:
                    if frame.destination.value != self.client_address:
                        continue
                    self._rx(encode_hdlc_frame(frame))
                else:
                    self._rx(encode_wrapper_frame(frame))
                return frame
            chunk = await reader.read(4096)
            if not chunk:
                msg = "the meter closed the connection"
                raise DlmsConnectionError(msg)
            if self._uses_hdlc:
                self._hdlc.feed(chunk)
            else:
                self._wrapper.feed(chunk)

    def _hdlc_frame(self, kind: HdlcFrameKind, **fields: Any) -> bytes:
        return encode_hdlc_frame(
            HdlcFrame(
                destination=self._server_hdlc_address(),
                source=HdlcAddress(value=self.client_address),
                kind=kind,
                **fields,
            )
        )

    def _server_hdlc_address(self) -> HdlcAddress:
        return HdlcAddress.server(self.server_logical, self.server_physical)

    async def _hdlc_command(self, kind: HdlcFrameKind, expect: tuple[HdlcFrameKind, ...]) -> Any:
        """Send an unnumbered command and wait for one of ``expect``."""
        self._write(self._hdlc_frame(kind))
        while True:
            frame = await self._next_frame()
            if frame.kind in expect:
                return frame

    def _apply_ua(self, information: bytes) -> None:
        """Take the negotiated maximum information field lengths from a UA (6.4.4.4.3.2)."""
        self._max_info_tx = self._max_info_rx = HDLC_DEFAULT_MAX_INFO
        if information[:2] != b"\x81\x80":
            return
        pos = 3
        while pos + 2 <= len(information):
            ident, size = information[pos], information[pos + 1]
            value = int.from_bytes(information[pos + 2 : pos + 2 + size], "big")
            pos += 2 + size
            if ident == _HDLC_MAX_INFO_RX and value:
                self._max_info_tx = min(value, HDLC_MAX_LENGTH - 16)
            elif ident == _HDLC_MAX_INFO_TX and value:
                self._max_info_rx = value

    async def _send_apdu(self, apdu: bytes) -> None:
        """Send one APDU: a wrapper frame, or LLC + I-frames with segmentation and RR waits."""
        self.round_trips += 1
        if not self._uses_hdlc:
            frame = WrapperFrame(
                source=self.client_address, destination=self.server_logical, payload=apdu
            )
            self._write(encode_wrapper_frame(frame))
            return
        segments = segment_information(LLC_REQUEST + apdu, max_info=self._max_info_tx)
        for chunk, segmented in segments:
            self._write(
                self._hdlc_frame(
                    HdlcFrameKind.I,
                    send_sequence=self._vs,
                    receive_sequence=self._vr,
                    segmented=segmented,
                    information=chunk,
                )
            )
            self._vs = (self._vs + 1) % 8
            if segmented:
                while (await self._next_frame()).kind is not HdlcFrameKind.RR:
                    pass

    async def _recv_apdu(self) -> bytes:
        """Receive one complete APDU (reassembling and acknowledging HDLC segments)."""
        if not self._uses_hdlc:
            frame = await self._next_frame()
            payload: bytes = frame.payload
            return payload
        join = HdlcReassembler()
        while True:
            frame = await self._next_frame()
            if frame.kind is HdlcFrameKind.DM:
                msg = "meter answered DM: the HDLC link is down"
                raise DlmsConnectionError(msg)
            if frame.kind is not HdlcFrameKind.I:
                continue
            if frame.send_sequence != self._vr:
                _LOGGER.debug(
                    "ignoring I-frame N(S)=%s, expected %s", frame.send_sequence, self._vr
                )
                continue
            self._vr = (self._vr + 1) % 8
            whole = join.add(frame)
            if whole is None:
                self._write(self._hdlc_frame(HdlcFrameKind.RR, receive_sequence=self._vr))
                self.round_trips += 1
                continue
            return strip_llc(whole)

    async def _request(self, apdu: bytes) -> bytes:
        """One request/response round trip under the request timeout."""
        try:
            async with asyncio.timeout(self.request_timeout):
                await self._send_apdu(apdu)
                response = await self._recv_apdu()
                if self._writer is not None:
                    await self._writer.drain()
        except TimeoutError as err:
            self.connected = False
            msg = f"the meter did not answer within {self.request_timeout} s"
            raise DlmsTimeoutError(msg) from err
        except (OSError, ConnectionError) as err:
            self.connected = False
            msg = f"connection to the meter broke: {err}"
            raise DlmsConnectionError(msg) from err
        if response[:1] == bytes((_TAG_EXCEPTION_RESPONSE,)):
            status = response[2] if len(response) > 2 else None  # noqa: PLR2004
            if response[1:2] == bytes((_EXCEPTION_STATE_ERROR,)):
                # Green Book ExceptionResponse state-error: the meter has no (valid) association
                # any more, e.g. after rejecting our invocation counter. Re-associate.
                self.connected = False
                msg = f"the meter dropped the association (exception {response[1:].hex()})"
                raise DlmsConnectionError(msg)
            msg = f"meter answered with an exception response ({response[1:].hex()})"
            raise DlmsResponseError(msg, status=status)
        return response

    async def _exchange(self, apdus: Sequence[Any]) -> Any:
        """Send gurux-built APDUs and let gurux parse the replies (association, SET, ACTION)."""
        reply = GXReplyData()
        for apdu in apdus:
            if apdu is None:
                continue
            response = self._decipher(await self._request(bytes(apdu)))
            notify = GXReplyData()
            with contextlib.redirect_stdout(io.StringIO()):
                self._gurux(self._gx.getData, GXByteBuffer(response), reply, notify)
        self._report_counter()
        return reply

    async def _get_raw(self, apdus: Sequence[Any]) -> bytes:
        """Send one GET request and return its body (normal: Data, with-list: result list)."""
        bodies = await self._get_bodies(apdus)
        if len(bodies) != 1:
            msg = f"expected one GET request, gurux built {len(bodies)}"
            raise DlmsProtocolError(msg)
        return bodies[0]

    async def _get_bodies(self, apdus: Sequence[Any]) -> list[bytes]:
        """Send GET requests one after the other and return each response body.

        Block transfer (GetResponseWithDataBlock / GetRequestNext) is handled here, so the
        bytes come back untouched and are decoded once by our A-XDR decoder.
        """
        bodies: list[bytes] = []
        for apdu in apdus:
            request = bytes(apdu)
            response = self._decipher(await self._request(request))
            blocks = bytearray()
            count = 0
            number: int | None = None
            while response[:2] == bytes((_TAG_GET_RESPONSE, _GET_WITH_BLOCK)):
                count += 1
                number = _check_block(response, number)
                last = response[3]
                if response[8] != 0:
                    _raise_for_error(response[9], "block transfer")
                size, pos = decode_length(response, 9)
                _check_block_data(response, pos, size, blocks=count, total=len(blocks))
                blocks += response[pos : pos + size]
                if last:
                    response = bytes((_TAG_GET_RESPONSE, _GET_ASSEMBLED)) + bytes(blocks)
                    break
                next_request = bytes((_TAG_GET_REQUEST, _GET_NEXT, response[2]))
                response = self._decipher(
                    await self._request(self._encipher(next_request + number.to_bytes(4, "big")))
                )
            bodies.append(self._get_body(response))
        self._report_counter()
        return bodies

    def _decipher(self, response: bytes) -> bytes:
        """Decipher a glo- response with the meter's system title (learned from the AARE)."""
        if response[:1] not in {bytes((tag,)) for tag in GLO_RESPONSE_TAGS}:
            return response
        title = bytes(self._gx.sourceSystemTitle or self._gx.serverSystemTitle or b"")
        ciphered = parse_service_ciphering(response, system_title=title)
        try:
            return decrypt_apdu(
                ciphered,
                block_cipher_key=self._block_cipher_key,
                authentication_key=self._authentication_key,
                plausible=lambda plain: plain[:1] in _PLAIN_RESPONSES,
            )
        except DlmsDecipherError as err:
            if not self.connected:
                raise  # while associating: the keys are wrong
            # The association proved the keys; this reply was damaged or forged on the way.
            msg = f"a reply from the meter failed its integrity check: {err}"
            raise DlmsIntegrityError(msg) from err

    def _encipher(self, request: bytes) -> bytes:
        """Cipher a request we build ourselves (GET-next) when the association is ciphered."""
        if self.authentication is not DlmsAuthentication.HIGH_GMAC:
            return request
        counter = int(self._gx.ciphering.invocationCounter)
        self._gx.ciphering.invocationCounter = counter + 1
        return encrypt_service_apdu(
            TAG_GLO_GET_REQUEST,
            request,
            system_title=self.system_title,
            invocation_counter=counter,
            block_cipher_key=self._block_cipher_key,
            authentication_key=self._authentication_key,
        )

    @staticmethod
    def _get_body(response: bytes) -> bytes:
        if response[:1] != bytes((_TAG_GET_RESPONSE,)) or len(response) < 4:  # noqa: PLR2004
            msg = f"expected a GET-Response, got {response[:4].hex()}"
            raise DlmsProtocolError(msg, snippet=response[:16])
        kind = response[1]
        if kind == _GET_ASSEMBLED:
            return response[2:]
        if kind == _GET_NORMAL:
            if response[3] != 0:
                code = response[4] if len(response) > 4 else 250  # noqa: PLR2004
                _raise_for_error(code, "the requested attribute")
            return response[4:]
        if kind == _GET_WITH_LIST:
            return response[3:]
        msg = f"unexpected GET-Response type {kind}"
        raise DlmsProtocolError(msg, snippet=response[:16])

    def _report_counter(self) -> None:
        """Hand a changed invocation counter to the persistence callback."""
        if self.authentication is not DlmsAuthentication.HIGH_GMAC or self._gx is None:
            return
        counter = int(self._gx.ciphering.invocationCounter)
        if counter != self.invocation_counter:
            self.invocation_counter = counter
            if self._on_invocation_counter is not None:
                self._on_invocation_counter(counter)

    async def _run[T](self, operation: Callable[[], Any], *, retry: bool) -> T:
        """Run ``operation`` under the lock, (re)connecting first; retry reads once."""
        async with self._lock:
            for attempt in range(2 if retry else 1):
                if not self.connected:
                    await self._connect()
                try:
                    result: T = await operation()
                except DlmsConnectionError as err:
                    await self._drop()
                    if not retry and not isinstance(err, DlmsReplyLostError):
                        # never repeated: the caller reads back to learn what happened
                        msg = f"{err}; the request may have reached the meter"
                        raise DlmsReplyLostError(msg) from err
                    if attempt or not retry:
                        raise
                    _LOGGER.debug("link to the meter broke; reconnecting once")
                    continue
                except (IndexError, KeyError, TypeError, ValueError) as err:
                    # Only malformed meter data gets here (short APDUs, odd structures): keep
                    # the promise that nothing but MeterLink errors leaves this library.
                    msg = f"could not understand the meter's reply: {err!r}"
                    raise DlmsProtocolError(msg) from err
                return result
        msg = "unreachable"
        raise DlmsConnectionError(msg)

    # -- objects and values --------------------------------------------------------------

    @staticmethod
    def _object(class_id: int, obis: str) -> Any:
        try:
            kind = ObjectType(class_id)
        except ValueError as err:
            msg = f"interface class {class_id} is not known to gurux_dlms"
            raise DlmsUnsupportedError(msg) from err
        obj = GXDLMSSecureClient.createObject(kind)
        obj.logicalName = obis_to_str(obis_from_str(obis))
        return obj

    def _reading(self, ref: DlmsAttributeRef, item: DataItem) -> DlmsReading:
        obis = obis_to_str(obis_from_str(ref.obis))
        plain = _data_item_value(item)
        scaled = _SCALED_CLASSES.get(ref.class_id)
        if scaled and ref.attribute == scaled[0] and obis in self._scalers:
            scaler, unit = self._scalers[obis]
            if isinstance(plain, int | float) and not isinstance(plain, bool):
                return DlmsReading(
                    obis=obis,
                    value=_scaled(plain, scaler),
                    unit=unit_name(unit),
                    scaler=scaler,
                    raw=plain,
                )
            return DlmsReading(obis=obis, value=plain, unit=unit_name(unit))
        return DlmsReading(obis=obis, value=plain)

    def _remember_scaler(self, obis: str, item: DataItem) -> None:
        children = item.children
        if len(children) == 2 and all(child.is_integer for child in children):  # noqa: PLR2004
            scaler, unit = children[0].value, children[1].value
            if isinstance(scaler, int) and isinstance(unit, int):
                self._scalers[obis_to_str(obis_from_str(obis))] = (scaler, unit)

    def _scaler_refs(self, refs: Sequence[DlmsAttributeRef]) -> list[DlmsAttributeRef]:
        needed: dict[str, DlmsAttributeRef] = {}
        for ref in refs:
            scaled = _SCALED_CLASSES.get(ref.class_id)
            obis = obis_to_str(obis_from_str(ref.obis))
            if scaled and ref.attribute == scaled[0] and obis not in self._scalers:
                needed[obis] = DlmsAttributeRef(
                    obis=obis, class_id=ref.class_id, attribute=scaled[1]
                )
        return list(needed.values())

    async def _get(self, ref: DlmsAttributeRef) -> DataItem:
        apdus = self._gurux(self._gx.read, self._object(ref.class_id, ref.obis), ref.attribute)
        try:
            return decode_data_exact(await self._get_raw(apdus))
        except DlmsResponseError as err:
            msg = f"{ref.obis} attribute {ref.attribute}: {err}"
            raise type(err)(msg, status=err.status) from err

    async def _learn_scalers(self, refs: Sequence[DlmsAttributeRef]) -> None:
        scaler_refs = self._scaler_refs(refs)
        for ref, value in zip(scaler_refs, await self._get_many(scaler_refs), strict=True):
            if isinstance(value, DataItem):
                self._remember_scaler(ref.obis, value)

    async def read(self, obis: str, class_id: int = 3, attribute: int = 2) -> DlmsReading:
        """Read one attribute; registers come back scaled once with their unit."""
        ref = DlmsAttributeRef(obis=obis, class_id=class_id, attribute=attribute)

        async def run() -> DlmsReading:
            for scaler_ref in self._scaler_refs([ref]):
                self._remember_scaler(scaler_ref.obis, await self._get(scaler_ref))
            return self._reading(ref, await self._get(ref))

        return await self._run(run, retry=True)

    @property
    def supports_get_with_list(self) -> bool:
        """True when the association negotiated multiple-references (GET-with-list)."""
        return self._gx is not None and bool(
            self._gx.negotiatedConformance & Conformance.MULTIPLE_REFERENCES
        )

    async def _get_many(self, refs: Sequence[DlmsAttributeRef]) -> list[DataItem | DlmsError]:
        """Read ``refs`` in as few GET-with-list requests as the limits allow."""
        results: list[DataItem | DlmsError] = []
        if not self.supports_get_with_list or len(refs) <= 1:
            for ref in refs:
                try:
                    results.append(await self._get(ref))
                except DlmsResponseError as err:
                    results.append(err)
            return results
        # Each item takes 10 bytes of the request; stay strictly below gurux's own split point
        # ((max PDU - 12) / 10, computed as a float that crashes its splitting code).
        per_request = max(
            1, min(self.max_list_items, (int(self._gx.settings.maxPduSize) - 13) // 10)
        )
        for start in range(0, len(refs), per_request):
            batch = refs[start : start + per_request]
            items = [(self._object(ref.class_id, ref.obis), ref.attribute) for ref in batch]
            messages = self._gurux(self._gx.readList, items)
            apdus = [a for m in messages for a in (m if isinstance(m, list) else [m])]
            # gurux splits a list further when the meter's PDU size demands it.
            pending = list(batch)
            for body in await self._get_bodies(apdus):
                count, _ = decode_length(body, 0)
                results.extend(self._parse_list(body, pending[:count]))
                pending = pending[count:]
            if pending:
                msg = f"GET-with-list left {len(pending)} item(s) unanswered"
                raise DlmsProtocolError(msg)
        return results

    @staticmethod
    def _parse_list(body: bytes, batch: Sequence[DlmsAttributeRef]) -> list[DataItem | DlmsError]:
        count, pos = decode_length(body, 0)
        if count != len(batch):
            msg = f"GET-with-list of {len(batch)} items returned {count} results"
            raise DlmsProtocolError(msg, snippet=body[:16])
        out: list[DataItem | DlmsError] = []
        for ref in batch:
            if pos >= len(body):
                msg = "GET-with-list response is cut off"
                raise DlmsDataError(msg, snippet=body[-16:])
            choice = body[pos]
            if choice == 0:
                item, pos = decode_data(body, pos + 1)
                out.append(item)
                continue
            code = body[pos + 1] if pos + 1 < len(body) else 250
            pos += 2
            try:
                _raise_for_error(code, f"{ref.obis} attribute {ref.attribute}")
            except DlmsResponseError as err:
                out.append(err)
        if pos != len(body):
            msg = f"{len(body) - pos} byte(s) after the GET-with-list results"
            raise DlmsDataError(msg, snippet=body[pos : pos + 16])
        return out

    async def read_many(self, refs: Sequence[DlmsAttributeRef]) -> list[DlmsReading | DlmsError]:
        """Read many attributes, batched per the meter's limits; per-item errors are returned.

        Scaler/unit of registers are read once (batched too) and cached, so a steady poll of
        N registers costs ceil(N / max_list_items) round trips when GET-with-list is negotiated.
        """

        async def run() -> list[DlmsReading | DlmsError]:
            await self._learn_scalers(refs)
            out: list[DlmsReading | DlmsError] = []
            for ref, value in zip(refs, await self._get_many(refs), strict=True):
                out.append(value if isinstance(value, DlmsError) else self._reading(ref, value))
            return out

        return await self._run(run, retry=True)

    async def write(
        self, obis: str, class_id: int, attribute: int, value: Any, data_type: DataTag
    ) -> None:
        """Write one attribute (SET-Request normal)."""

        async def run() -> None:
            obj = self._object(class_id, obis)
            obj.setDataType(attribute, int(data_type))
            self._gurux(self._gx.updateValue, obj, attribute, value)
            reply = await self._exchange(self._gurux(self._gx.write, obj, attribute))
            _raise_for_error(reply.error, f"write {obis} attribute {attribute}")

        await self._run(run, retry=False)

    async def set_clock(self, when: dt.datetime) -> None:
        """Set the meter clock (class 8 attribute 2)."""

        async def run() -> None:
            clock = GXDLMSClock(CLOCK)
            clock.time = GXDateTime(when)
            reply = await self._exchange(self._gurux(self._gx.write, clock, 2))
            _raise_for_error(reply.error, "clock set")

        await self._run(run, retry=False)

    async def invoke(self, obis: str, class_id: int, method: int, value: int = 0) -> None:
        """Invoke a method with an integer parameter (ACTION-Request normal)."""

        async def run() -> None:
            obj = self._object(class_id, obis)
            apdus = self._gurux(self._gx.method, obj, method, value, int(DataTag.INTEGER))
            reply = await self._exchange(apdus)
            _raise_for_error(reply.error, f"method {method} of {obis}")

        await self._run(run, retry=False)

    async def remote_disconnect(self) -> None:
        """Open the supply relay (disconnect control 0.0.96.3.10.255 method 1)."""
        await self.invoke(DISCONNECT_CONTROL, _CLASS_DISCONNECT_CONTROL, 1)

    async def remote_reconnect(self) -> None:
        """Close the supply relay (disconnect control 0.0.96.3.10.255 method 2)."""
        await self.invoke(DISCONNECT_CONTROL, _CLASS_DISCONNECT_CONTROL, 2)

    async def keep_alive(self) -> None:
        """Keep the association open (HDLC RR; over the wrapper a cheap read)."""

        async def run() -> None:
            if not self._uses_hdlc:
                await self._get(DlmsAttributeRef(obis=ASSOCIATION_LN, class_id=15, attribute=1))
                return
            try:
                async with asyncio.timeout(self.request_timeout):
                    self.round_trips += 1
                    self._write(self._hdlc_frame(HdlcFrameKind.RR, receive_sequence=self._vr))
                    while (await self._next_frame()).kind is not HdlcFrameKind.RR:
                        pass
            except TimeoutError as err:
                self.connected = False
                msg = "the meter did not answer the keep-alive"
                raise DlmsTimeoutError(msg) from err

        await self._run(run, retry=True)

    async def discover_objects(self) -> list[DlmsObjectInfo]:
        """Read the association object list (classes, access rights, register units)."""

        async def run() -> list[DlmsObjectInfo]:
            listing = await self._get(
                DlmsAttributeRef(obis=ASSOCIATION_LN, class_id=15, attribute=2)
            )
            objects = [self._object_info(item) for item in listing.children]
            await self._learn_scalers(
                [
                    DlmsAttributeRef(
                        obis=o.obis, class_id=o.class_id, attribute=_SCALED_CLASSES[o.class_id][0]
                    )
                    for o in objects
                    if o.class_id in _SCALED_CLASSES
                ]
            )
            return [
                DlmsObjectInfo(
                    obis=o.obis,
                    class_id=o.class_id,
                    version=o.version,
                    attributes=o.attributes,
                    methods=o.methods,
                    scaler=self._scalers[o.obis][0] if o.obis in self._scalers else None,
                    unit=unit_name(self._scalers[o.obis][1]) if o.obis in self._scalers else None,
                )
                for o in objects
            ]

        return await self._run(run, retry=True)

    @staticmethod
    def _object_info(item: DataItem) -> DlmsObjectInfo:
        fields = item.children
        if len(fields) < 4 or not isinstance(fields[2].value, bytes):  # noqa: PLR2004
            msg = "object list entry is not {class_id, version, logical_name, access_rights}"
            raise DlmsDataError(msg)
        attributes: list[DlmsAttributeAccess] = []
        methods: list[int] = []
        rights = fields[3].children
        if rights:
            for entry in rights[0].children:
                index, mode = entry.children[0].value, entry.children[1].value
                if isinstance(index, int) and isinstance(mode, int):
                    attributes.append(
                        DlmsAttributeAccess(
                            attribute=index, readable=bool(mode & 1), writable=bool(mode & 2)
                        )
                    )
            if len(rights) > 1:
                for entry in rights[1].children:
                    index, mode = entry.children[0].value, entry.children[1].value
                    if isinstance(index, int) and mode:
                        methods.append(index)
        class_id, version = fields[0].value, fields[1].value
        return DlmsObjectInfo(
            obis=obis_to_str(fields[2].value),
            class_id=class_id if isinstance(class_id, int) else 0,
            version=version if isinstance(version, int) else 0,
            attributes=tuple(attributes),
            methods=tuple(methods),
        )

    async def read_profile(
        self, obis: str, start: dt.datetime, end: dt.datetime
    ) -> AsyncIterator[DlmsProfileRow]:
        """Yield load-profile rows between ``start`` and ``end``, each column scaled once.

        The buffer is fetched by range (block transfer as needed) and decoded row by row.
        """
        profile: tuple[bytes, list[tuple[int, str]]] = await self._run(
            lambda: self._profile_raw(obis, start, end), retry=True
        )
        raw, columns = profile
        for row in self.iter_profile(raw, columns):
            yield row

    async def _profile_raw(
        self, obis: str, start: dt.datetime, end: dt.datetime
    ) -> tuple[bytes, list[tuple[int, str]]]:
        capture = await self._get(DlmsAttributeRef(obis=obis, class_id=7, attribute=3))
        profile = GXDLMSProfileGeneric(obis_to_str(obis_from_str(obis)))
        columns: list[tuple[int, str]] = []
        for entry in capture.children:
            class_item, name_item, attr_item = entry.children[:3]
            if not isinstance(name_item.value, bytes) or not isinstance(class_item.value, int):
                msg = "capture object is not {class_id, logical_name, attribute, data_index}"
                raise DlmsDataError(msg)
            name = obis_to_str(name_item.value)
            columns.append((class_item.value, name))
            column = self._object(class_item.value, name)
            attribute = attr_item.value if isinstance(attr_item.value, int) else 2
            profile.captureObjects.append((column, GXDLMSCaptureObject(attribute, 0)))
        await self._learn_scalers(
            [DlmsAttributeRef(obis=name, class_id=class_id) for class_id, name in columns]
        )
        apdus = self._gurux(self._gx.readRowsByRange, profile, start, end)
        return await self._get_raw(apdus), columns

    def iter_profile(  # noqa: C901
        self, raw: bytes, columns: Sequence[tuple[int, str]]
    ) -> Iterator[DlmsProfileRow]:
        """Decode a profile buffer (array of structures) row by row; each column scaled once.

        Rows are decoded straight from the bytes for the common cell types (date-time
        octet-strings, fixed-size integers); anything else goes through the generic decoder.
        """
        if not raw:
            return
        if raw[0] != DataTag.ARRAY:
            msg = f"profile buffer starts with tag 0x{raw[0]:02X}, expected an array"
            raise DlmsDataError(msg, snippet=raw[:8])
        count, pos = _row_count(raw)
        clock_index = next(
            (index for index, (class_id, _) in enumerate(columns) if class_id == _CLASS_CLOCK), None
        )
        value_columns = []
        factors: list[tuple[int, int]] = []
        for index, (class_id, name) in enumerate(columns):
            if index == clock_index:
                continue
            scaler_unit = self._scalers.get(name) if class_id in _SCALED_CLASSES else None
            scaler, unit = scaler_unit or (0, None)
            value_columns.append(
                DlmsProfileColumn(obis=name, class_id=class_id, unit=unit_name(unit), scaler=scaler)
            )
            factors.append((10**scaler, 0) if scaler >= 0 else (0, 10**-scaler))
        shared = tuple(value_columns)
        width = len(columns)
        for _ in range(count):
            if pos + 2 > len(raw) or raw[pos] != DataTag.STRUCTURE or raw[pos + 1] != width:
                item, pos = decode_data(raw, pos)
                cells: list[ReadingValue] = [_data_item_value(cell) for cell in item.children]
            else:
                pos += 2
                cells = []
                for _ in range(width):
                    value, pos = _fast_cell(raw, pos)
                    cells.append(value)
            timestamp = None
            if clock_index is not None and clock_index < len(cells):
                stamp = cells.pop(clock_index)
                timestamp = stamp if isinstance(stamp, dt.datetime) else None
            values: list[ReadingValue] = []
            for (multiply, divide), value in zip(factors, cells, strict=False):
                if isinstance(value, int) and not isinstance(value, bool):
                    values.append(value / divide if divide else value * multiply)
                else:
                    values.append(value)
            yield DlmsProfileRow(timestamp=timestamp, columns=shared, values=tuple(values))


_FAST_INTS = {
    DataTag.DOUBLE_LONG: struct.Struct(">i"),
    DataTag.DOUBLE_LONG_UNSIGNED: struct.Struct(">I"),
    DataTag.LONG: struct.Struct(">h"),
    DataTag.LONG_UNSIGNED: struct.Struct(">H"),
    DataTag.INTEGER: struct.Struct(">b"),
    DataTag.UNSIGNED: struct.Struct(">B"),
    DataTag.LONG64: struct.Struct(">q"),
    DataTag.LONG64_UNSIGNED: struct.Struct(">Q"),
}
_DATE_TIME = struct.Struct(">HBBBBBBB")


def _row_count(raw: bytes) -> tuple[int, int]:
    """The row count of a profile buffer and where its rows start; refuse a count too large."""
    count, pos = decode_length(raw, 1)
    if count > len(raw) - pos:  # every row takes at least one byte
        msg = f"profile buffer claims {count} rows in {len(raw) - pos} bytes"
        raise DlmsDataError(msg, snippet=raw[:8])
    return count, pos


def _fast_cell(raw: bytes, pos: int) -> tuple[ReadingValue, int]:
    """Decode one profile cell without building a DataItem when the type is simple."""
    if pos >= len(raw):
        msg = f"profile cell at offset {pos} is cut off"
        raise DlmsDataError(msg, snippet=raw[-8:])
    tag = raw[pos]
    unpack = _FAST_INTS.get(tag)  # type: ignore[call-overload]
    if unpack is not None and pos + 1 + unpack.size <= len(raw):
        return unpack.unpack_from(raw, pos + 1)[0], pos + 1 + unpack.size
    if tag == DataTag.OCTET_STRING and raw[pos + 1 : pos + 2] == b"\x0c" and pos + 14 <= len(raw):
        year, month, day, _, hour, minute, second, hundredths = _DATE_TIME.unpack_from(raw, pos + 2)
        try:
            stamp = dt.datetime(  # noqa: DTZ001 - meter local time
                year,
                month,
                day,
                hour,
                minute,
                second,
                hundredths * 10000 if hundredths < 100 else 0,  # noqa: PLR2004
            )
        except ValueError:
            return CosemDateTime.from_bytes(raw[pos + 2 : pos + 14]).to_datetime(), pos + 14
        return stamp, pos + 14
    item, end = decode_data(raw, pos)
    return _data_item_value(item), end
