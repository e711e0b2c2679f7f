"""A minimal COSEM application layer: AARQ/AARE, GET/SET/ACTION and block transfer.

gurux_dlms 1.0.203's Python server fails on object-list reads, GET-with-list, ACTION, SET and
range reads (checked when this simulator was written), so the simulator answers the xDLMS
APDUs itself (encodings from the DLMS Green Book, IEC 62056-5-3) and keeps its objects here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
import os
from typing import TYPE_CHECKING

from custom_components.meterlink.protocols.dlms.axdr import (
    CosemDateTime,
    DataItem,
    DataTag,
    decode_data,
    decode_length,
    encode_data,
    encode_length,
    obis_to_str,
)
from custom_components.meterlink.protocols.dlms.cipher import (
    TAG_GENERAL_GLO_CIPHERING,
    CipheredApdu,
    decrypt_apdu,
    encrypt_apdu,
    parse_general_ciphering,
)
from custom_components.meterlink.protocols.dlms.errors import DlmsError
from custom_components.meterlink.protocols.dlms.models import DlmsSecurity

if TYPE_CHECKING:
    import datetime as dt

# Green Book 9.4 / IEC 62056-5-3: xDLMS APDU tags.
TAG_AARQ = 0x60
TAG_AARE = 0x61
TAG_RLRQ = 0x62
TAG_RLRE = 0x63
TAG_GET_REQUEST = 0xC0
TAG_SET_REQUEST = 0xC1
TAG_ACTION_REQUEST = 0xC3
TAG_GET_RESPONSE = 0xC4
TAG_SET_RESPONSE = 0xC5
TAG_ACTION_RESPONSE = 0xC7
TAG_EXCEPTION_RESPONSE = 0xD8
TAG_INITIATE_REQUEST = 0x01
TAG_INITIATE_RESPONSE = 0x08
# Green Book 9.4.2.2: application context names 2.16.756.5.8.1.x (BER-encoded prefix).
_CONTEXT_PREFIX = bytes.fromhex("60857405080101")[:-1]
CONTEXT_LN_NO_CIPHERING = bytes.fromhex("60857405080101")
# Green Book 9.4.2.2: mechanism names 2.16.756.5.8.2.x; 1 = LLS (password).
MECHANISM_LLS = bytes.fromhex("60857405080201")
# 5 = HLS GMAC; application context 3 = LN referencing with ciphering.
MECHANISM_HLS_GMAC = bytes.fromhex("60857405080205")
CONTEXT_LN_CIPHERING = bytes.fromhex("60857405080103")
# Green Book 9.5: glo- (global key) ciphered APDU tags.
TAG_GLO_INITIATE_REQUEST = 0x21
TAG_GLO_INITIATE_RESPONSE = 0x28
TAG_GLO_GET_REQUEST = 0xC8
TAG_GLO_SET_REQUEST = 0xC9
TAG_GLO_ACTION_REQUEST = 0xCB
TAG_GLO_GET_RESPONSE = 0xCC
TAG_GLO_SET_RESPONSE = 0xCD
TAG_GLO_ACTION_RESPONSE = 0xCF
_GLO_RESPONSE = {
    TAG_GLO_GET_REQUEST: TAG_GLO_GET_RESPONSE,
    TAG_GLO_SET_REQUEST: TAG_GLO_SET_RESPONSE,
    TAG_GLO_ACTION_REQUEST: TAG_GLO_ACTION_RESPONSE,
}
_PLAIN_REQUEST = {
    TAG_GLO_GET_REQUEST: 0xC0,
    TAG_GLO_SET_REQUEST: 0xC1,
    TAG_GLO_ACTION_REQUEST: 0xC3,
}
ASSOCIATION_LN = bytes((0, 0, 40, 0, 0, 255))
# Green Book 9.4.6.1 conformance bits (bit n of the 24-bit string is 1 << (23 - n)).
CONFORMANCE_BLOCK_GET = 1 << (23 - 11)
CONFORMANCE_BLOCK_SET = 1 << (23 - 12)
CONFORMANCE_BLOCK_ACTION = 1 << (23 - 13)
CONFORMANCE_MULTIPLE_REFERENCES = 1 << (23 - 14)
CONFORMANCE_GET = 1 << (23 - 19)
CONFORMANCE_SET = 1 << (23 - 20)
CONFORMANCE_SELECTIVE_ACCESS = 1 << (23 - 21)
CONFORMANCE_ACTION = 1 << (23 - 23)
SERVER_CONFORMANCE = (
    CONFORMANCE_BLOCK_GET
    | CONFORMANCE_MULTIPLE_REFERENCES
    | CONFORMANCE_GET
    | CONFORMANCE_SET
    | CONFORMANCE_SELECTIVE_ACCESS
    | CONFORMANCE_ACTION
)


class DataAccessResult(IntEnum):
    """Green Book Data-Access-Result values the simulator uses."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    OTHER_REASON = 250


class AssociateDiagnostic(IntEnum):
    """acse-service-user diagnostics (Green Book 9.4.2.2 AARE)."""

    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NOT_SUPPORTED = 2
    AUTHENTICATION_MECHANISM_NOT_RECOGNISED = 11
    AUTHENTICATION_MECHANISM_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


class CosemError(Exception):
    """A request the simulator answers with a data-access-result."""

    def __init__(self, result: DataAccessResult) -> None:
        """Store the result code."""
        super().__init__(result.name)
        self.result = result


def u8(value: int) -> DataItem:
    """Return an unsigned item."""
    return DataItem(tag=DataTag.UNSIGNED, value=value)


def u16(value: int) -> DataItem:
    """Return a long-unsigned item."""
    return DataItem(tag=DataTag.LONG_UNSIGNED, value=value)


def i8(value: int) -> DataItem:
    """Return an integer item."""
    return DataItem(tag=DataTag.INTEGER, value=value)


def enum(value: int) -> DataItem:
    """Return an enum item."""
    return DataItem(tag=DataTag.ENUM, value=value)


def octets(value: bytes) -> DataItem:
    """Return an octet-string item."""
    return DataItem(tag=DataTag.OCTET_STRING, value=value)


def struct(*items: DataItem) -> DataItem:
    """Return a structure item."""
    return DataItem(tag=DataTag.STRUCTURE, value=items)


def array(items: list[DataItem]) -> DataItem:
    """Return an array item."""
    return DataItem(tag=DataTag.ARRAY, value=tuple(items))


def date_time(value: dt.datetime) -> DataItem:
    """Return a COSEM date-time as the 12-byte octet-string meters use."""
    return octets(CosemDateTime.from_datetime(value, deviation_min=None).to_bytes())


type Getter = Callable[[], DataItem]
type Setter = Callable[[DataItem], None]
type Method = Callable[[DataItem | None], None]


@dataclass(kw_only=True)
class CosemObject:
    """One interface-class instance: attribute getters/setters and methods."""

    class_id: int
    version: int
    logical_name: bytes
    getters: dict[int, Getter] = field(default_factory=dict)
    setters: dict[int, Setter] = field(default_factory=dict)
    methods: dict[int, Method] = field(default_factory=dict)
    selective: Callable[[int, DataItem], DataItem] | None = None

    def access_rights(self) -> DataItem:
        """Return the access_rights structure of the object list (LN association v1+)."""
        attributes = []
        for index in sorted(set(self.getters) | set(self.setters) | {1}):
            mode = (1 if index in self.getters or index == 1 else 0) | (
                2 if index in self.setters else 0
            )
            attributes.append(struct(i8(index), enum(mode), DataItem(tag=DataTag.NULL, value=None)))
        methods = [struct(i8(index), enum(1)) for index in sorted(self.methods)]
        return struct(array(attributes), array(methods))


@dataclass(kw_only=True)
class ServerSecurity:
    """Keys and counters of the simulated meter (shared by all its connections)."""

    block_cipher_key: bytes
    authentication_key: bytes
    system_title: bytes = b"SIM00001"
    require_hls: bool = False
    server_counter: int = 0
    client_counters: dict[bytes, int] = field(default_factory=dict)


@dataclass(kw_only=True)
class AssociationState:
    """What the AARQ negotiated for one connection."""

    associated: bool = False
    conformance: int = 0
    client_max_pdu: int = 0xFFFF
    pending_blocks: list[bytes] = field(default_factory=list)
    block_number: int = 0
    invoke_id: int = 0
    ciphered: bool = False
    hls_pending: bool = False
    client_title: bytes = b""
    client_challenge: bytes = b""
    server_challenge: bytes = b""


def _ber_items(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    """Split BER TLVs between ``offset`` and ``end`` into tag -> content."""
    items: dict[int, bytes] = {}
    while offset < end:
        tag = data[offset]
        length = data[offset + 1]
        offset += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
        items[tag] = data[offset : offset + length]
        offset += length
    return items


def _logical_name_of(data: bytes, pos: int) -> tuple[int, bytes, int, int]:
    """Read class id, logical name and attribute/method id of a descriptor."""
    class_id = int.from_bytes(data[pos : pos + 2], "big")
    logical_name = data[pos + 2 : pos + 8]
    index = data[pos + 8]
    return class_id, logical_name, index, pos + 9


class CosemServer:
    """The application layer of one simulated logical device (management, LN referencing)."""

    def __init__(
        self,
        objects: list[CosemObject],
        *,
        password: bytes | None = None,
        max_pdu: int = 0xFFFF,
        refuse_association: bool = False,
        endless_blocks: bool = False,
        conformance: int = SERVER_CONFORMANCE,
        security: ServerSecurity | None = None,
    ) -> None:
        """Hold the object list and association policy."""
        self.security = security
        self.conformance = conformance
        self.objects = {obj.logical_name: obj for obj in objects}
        self.password = password
        self.max_pdu = max_pdu
        self.refuse_association = refuse_association
        self.endless_blocks = endless_blocks  # fault: block transfer never sends its last block
        self.state = AssociationState()

    def reset(self) -> None:
        """Drop the association (link closed or released)."""
        self.state = AssociationState()

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, apdu: bytes) -> bytes:  # noqa: C901, PLR0911
        """Answer one request APDU."""
        try:
            tag = apdu[0]
            if tag == TAG_AARQ:
                return self._aarq(apdu)
            if tag == TAG_RLRQ:
                self.reset()
                return bytes((TAG_RLRE, 0x03, 0x80, 0x01, 0x00))
            if not self.state.associated:
                return bytes(
                    (TAG_EXCEPTION_RESPONSE, 0x01, 0x02)
                )  # state error: service not allowed
            if tag in _GLO_RESPONSE:
                if not self.state.ciphered:
                    return bytes((TAG_EXCEPTION_RESPONSE, 0x02, 0x02))
                try:
                    plain = self._decipher(apdu, self.state.client_title)
                except CosemError:
                    # Replayed/old invocation counter or bad tag: the meter drops the session.
                    self.reset()
                    return bytes((TAG_EXCEPTION_RESPONSE, 0x01, 0x03))
                if plain[:1] != bytes((_PLAIN_REQUEST[tag],)):
                    return bytes((TAG_EXCEPTION_RESPONSE, 0x02, 0x02))
                return self._encipher(_GLO_RESPONSE[tag], self._dispatch(plain))
            if tag == TAG_GENERAL_GLO_CIPHERING and self.state.ciphered:
                return self._general_glo(apdu)
            if self.state.ciphered:  # plain request in a ciphered session
                return bytes((TAG_EXCEPTION_RESPONSE, 0x01, 0x02))
            return self._dispatch(apdu)
        except (IndexError, DlmsError):
            return bytes(
                (TAG_EXCEPTION_RESPONSE, 0x02, 0x01)
            )  # service error: operation not possible

    def _general_glo(self, apdu: bytes) -> bytes:
        """Answer a general-glo-ciphering request (how dlms-cosem ciphers) in kind."""
        ciphered = parse_general_ciphering(apdu)
        security = self.security
        if security is None or ciphered.system_title != self.state.client_title:
            return bytes((TAG_EXCEPTION_RESPONSE, 0x01, 0x03))
        rebuilt = (
            bytes((TAG_GLO_GET_REQUEST,))
            + encode_length(len(ciphered.ciphertext) + 5)
            + bytes((ciphered.security_control,))
            + ciphered.invocation_counter.to_bytes(4, "big")
            + ciphered.ciphertext
        )
        try:
            plain = self._decipher(rebuilt, self.state.client_title)
        except CosemError:
            self.reset()
            return bytes((TAG_EXCEPTION_RESPONSE, 0x01, 0x03))
        security.server_counter += 1
        return encrypt_apdu(
            self._dispatch(plain),
            security=DlmsSecurity.AUTHENTICATED_ENCRYPTION,
            system_title=security.system_title,
            invocation_counter=security.server_counter,
            block_cipher_key=security.block_cipher_key,
            authentication_key=security.authentication_key,
        )

    def _dispatch(self, apdu: bytes) -> bytes:
        """Answer an unciphered GET/SET/ACTION request."""
        tag = apdu[0]
        if self.state.hls_pending and tag != TAG_ACTION_REQUEST:
            return bytes((TAG_EXCEPTION_RESPONSE, 0x01, 0x02))
        if tag == TAG_GET_REQUEST:
            return self._get(apdu)
        if tag == TAG_SET_REQUEST:
            return self._set(apdu)
        if tag == TAG_ACTION_REQUEST:
            return self._action(apdu)
        return bytes((TAG_EXCEPTION_RESPONSE, 0x02, 0x02))  # service not supported

    # -- association ---------------------------------------------------------------------

    def _aarq(self, apdu: bytes) -> bytes:  # noqa: C901, PLR0912, PLR0915
        """Answer an AARQ with an AARE: no security, LLS, or HLS-GMAC with ciphering."""
        length, pos = decode_length(apdu, 1)
        fields = _ber_items(apdu, pos, pos + length)
        context = fields.get(0xA1, b"")[2:]
        mechanism = fields.get(0x8B)
        hls = mechanism == MECHANISM_HLS_GMAC
        diagnostic = AssociateDiagnostic.NULL
        client_title = fields.get(0xA6, b"")[2:]
        challenge = fields.get(0xAC, b"")[2:]
        user_info = fields.get(0xBE, b"")
        initiate = user_info[2:] if user_info[:1] == b"\x04" else b""
        expected_context = CONTEXT_LN_CIPHERING if hls else CONTEXT_LN_NO_CIPHERING
        if context != expected_context:
            diagnostic = AssociateDiagnostic.APPLICATION_CONTEXT_NOT_SUPPORTED
        elif self.refuse_association:
            diagnostic = AssociateDiagnostic.NO_REASON_GIVEN
        elif hls:
            if self.security is None:
                diagnostic = AssociateDiagnostic.AUTHENTICATION_MECHANISM_NOT_RECOGNISED
            elif initiate[:1] != bytes((TAG_GLO_INITIATE_REQUEST,)):
                diagnostic = AssociateDiagnostic.NO_REASON_GIVEN
            else:
                try:
                    initiate = self._decipher(initiate, client_title)
                except CosemError:
                    diagnostic = AssociateDiagnostic.NO_REASON_GIVEN
        elif self.security is not None and self.security.require_hls:
            diagnostic = AssociateDiagnostic.AUTHENTICATION_MECHANISM_REQUIRED
        elif self.password is not None:
            secret = fields.get(0xAC, b"")[2:]
            if mechanism is None:
                diagnostic = AssociateDiagnostic.AUTHENTICATION_MECHANISM_REQUIRED
            elif mechanism != MECHANISM_LLS:
                diagnostic = AssociateDiagnostic.AUTHENTICATION_MECHANISM_NOT_RECOGNISED
            elif secret != self.password:
                diagnostic = AssociateDiagnostic.AUTHENTICATION_FAILURE
        proposed, client_pdu = 0, 0
        if initiate[:1] != bytes((TAG_INITIATE_REQUEST,)):
            diagnostic = diagnostic or AssociateDiagnostic.NO_REASON_GIVEN
        else:
            # InitiateRequest: tag, dedicated-key, response-allowed, quality-of-service
            # (each 00 when absent), dlms version, conformance (5F 1F 04 00 xx xx xx), max PDU.
            index = 1
            for _ in range(3):
                index += 1 if initiate[index] == 0 else 2 + initiate[index + 1]
            index += 1  # dlms version
            proposed = int.from_bytes(initiate[index + 4 : index + 7], "big")
            client_pdu = int.from_bytes(initiate[index + 7 : index + 9], "big")
        accepted = diagnostic is AssociateDiagnostic.NULL
        conformance = proposed & self.conformance
        if accepted:
            self.state = AssociationState(
                associated=True,
                conformance=conformance,
                client_max_pdu=client_pdu or 0xFFFF,
                ciphered=hls,
                hls_pending=hls,
                client_title=client_title,
                client_challenge=challenge,
                server_challenge=os.urandom(16) if hls else b"",
            )
        body = bytearray()
        body += b"\xa1\x09\x06\x07" + (CONTEXT_LN_CIPHERING if hls else CONTEXT_LN_NO_CIPHERING)
        body += bytes((0xA2, 0x03, 0x02, 0x01, 0 if accepted else 1))
        if accepted and hls:
            diagnostic = AssociateDiagnostic.AUTHENTICATION_REQUIRED
        body += bytes((0xA3, 0x05, 0xA1, 0x03, 0x02, 0x01, diagnostic))
        if accepted and hls and self.security is not None:
            body += b"\xa4\x0a\x04\x08" + self.security.system_title
            body += b"\x88\x02\x07\x80\x89\x07" + MECHANISM_HLS_GMAC
            stoc = self.state.server_challenge
            body += bytes((0xAA, len(stoc) + 2, 0x80, len(stoc))) + stoc
        elif self.password is not None and accepted:
            body += b"\x88\x02\x07\x80\x89\x07" + MECHANISM_LLS
        if accepted:
            response = (
                bytes((TAG_INITIATE_RESPONSE, 0x00, 0x06, 0x5F, 0x1F, 0x04, 0x00))
                + conformance.to_bytes(3, "big")
                + self.max_pdu.to_bytes(2, "big")
                + b"\x00\x07"
            )
            if hls:
                response = self._encipher(TAG_GLO_INITIATE_RESPONSE, response)
        else:
            # confirmedServiceError: initiate, initiate error "other"
            response = b"\x0e\x01\x06\x00"
        body += bytes((0xBE,)) + encode_length(len(response) + 2) + b"\x04"
        body += encode_length(len(response)) + response
        return bytes((TAG_AARE,)) + encode_length(len(body)) + bytes(body)

    # -- ciphering (security suite 0) -------------------------------------------------------

    def _decipher(self, apdu: bytes, client_title: bytes) -> bytes:
        """Decipher a glo- APDU from the client, enforcing a rising invocation counter."""
        security = self.security
        if security is None or len(client_title) != 8:
            raise CosemError(DataAccessResult.OTHER_REASON)
        length, pos = decode_length(apdu, 1)
        content = apdu[pos : pos + length]
        ciphered = CipheredApdu(
            tag=apdu[0],
            system_title=client_title,
            security_control=content[0],
            invocation_counter=int.from_bytes(content[1:5], "big"),
            ciphertext=content[5:],
        )
        last = security.client_counters.get(client_title, -1)
        if ciphered.invocation_counter <= last:
            raise CosemError(DataAccessResult.OTHER_REASON)
        try:
            plain = decrypt_apdu(
                ciphered,
                block_cipher_key=security.block_cipher_key,
                authentication_key=security.authentication_key,
                plausible=lambda _: True,
            )
        except DlmsError as err:
            raise CosemError(DataAccessResult.OTHER_REASON) from err
        security.client_counters[client_title] = ciphered.invocation_counter
        return plain

    def _encipher(self, tag: int, plain: bytes) -> bytes:
        """Cipher a response with the server system title and the next server counter."""
        security = self.security
        if security is None:
            return plain
        security.server_counter += 1
        whole = encrypt_apdu(
            plain,
            security=DlmsSecurity.AUTHENTICATED_ENCRYPTION,
            system_title=security.system_title,
            invocation_counter=security.server_counter,
            block_cipher_key=security.block_cipher_key,
            authentication_key=security.authentication_key,
        )
        # general-glo-ciphering carries the title; service-specific glo- APDUs do not.
        _, pos = decode_length(whole, 1)
        content_length, pos = decode_length(whole, pos + 8)
        content = whole[pos : pos + content_length]
        return bytes((tag,)) + encode_length(len(content)) + content

    def _gmac(self, title: bytes, counter: int, challenge: bytes) -> bytes:
        """Return f(challenge) = SC || IC || GMAC(SC || AK || challenge) (HLS mechanism 5)."""
        assert self.security is not None  # noqa: S101 - only called with security
        whole = encrypt_apdu(
            challenge,
            security=DlmsSecurity.AUTHENTICATION,
            system_title=title,
            invocation_counter=counter,
            block_cipher_key=self.security.block_cipher_key,
            authentication_key=self.security.authentication_key,
        )
        return bytes((0x10,)) + counter.to_bytes(4, "big") + whole[-12:]

    def _reply_to_hls(self, parameters: DataItem | None) -> DataItem:
        """Association LN method 1: check the client's f(StoC), answer with f(CtoS)."""
        state, security = self.state, self.security
        if security is None or not state.hls_pending or parameters is None:
            raise CosemError(DataAccessResult.READ_WRITE_DENIED)
        answer = parameters.value
        if not isinstance(answer, bytes) or len(answer) != 17:
            raise CosemError(DataAccessResult.TYPE_UNMATCHED)
        counter = int.from_bytes(answer[1:5], "big")
        if answer != self._gmac(state.client_title, counter, state.server_challenge):
            state.associated = False
            raise CosemError(DataAccessResult.OTHER_REASON)
        state.hls_pending = False
        security.server_counter += 1
        return octets(
            self._gmac(security.system_title, security.server_counter, state.client_challenge)
        )

    # -- GET -----------------------------------------------------------------------------

    def _read(
        self, class_id: int, logical_name: bytes, index: int, access: DataItem | None
    ) -> DataItem:
        """Return one attribute value or raise CosemError."""
        obj = self.objects.get(logical_name)
        if obj is None or obj.class_id != class_id:
            raise CosemError(DataAccessResult.OBJECT_UNDEFINED)
        if index == 1:
            return octets(obj.logical_name)
        getter = obj.getters.get(index)
        if getter is None:
            raise CosemError(DataAccessResult.READ_WRITE_DENIED)
        if access is not None:
            if obj.selective is None:
                raise CosemError(DataAccessResult.OTHER_REASON)
            return obj.selective(index, access)
        return getter()

    @staticmethod
    def _access_selection(apdu: bytes, pos: int) -> tuple[DataItem | None, int]:
        """Read an optional selective-access-descriptor."""
        if apdu[pos] == 0:
            return None, pos + 1
        selector = apdu[pos + 1]
        parameters, end = decode_data(apdu, pos + 2)
        return struct(u8(selector), parameters), end

    def _get(self, apdu: bytes) -> bytes:
        """Answer GET-Request normal, next and with-list."""
        kind, invoke = apdu[1], apdu[2]
        self.state.invoke_id = invoke
        if kind == 2:
            return self._next_block(invoke, int.from_bytes(apdu[3:7], "big"))
        if kind == 1:
            class_id, logical_name, index, pos = _logical_name_of(apdu, 3)
            access, _ = self._access_selection(apdu, pos)
            try:
                encoded = b"\x00" + encode_data(self._read(class_id, logical_name, index, access))
            except CosemError as err:
                encoded = bytes((0x01, err.result))
            return self._respond(invoke, 1, encoded, encoded[1:] if encoded[0] == 0 else None)
        if kind == 3:
            if not self.state.conformance & CONFORMANCE_MULTIPLE_REFERENCES:
                return bytes((TAG_EXCEPTION_RESPONSE, 0x02, 0x02))
            count, pos = apdu[3], 4
            results = bytearray(encode_length(count))
            for _ in range(count):
                class_id, logical_name, index, pos = _logical_name_of(apdu, pos)
                access, pos = self._access_selection(apdu, pos)
                try:
                    results += b"\x00" + encode_data(
                        self._read(class_id, logical_name, index, access)
                    )
                except CosemError as err:
                    results += bytes((0x01, err.result))
            return self._respond(invoke, 3, bytes(results), bytes(results))
        return bytes((TAG_EXCEPTION_RESPONSE, 0x02, 0x02))

    def _respond(self, invoke: int, kind: int, whole: bytes, raw: bytes | None) -> bytes:
        """Return a GET-Response, switching to block transfer when too big for the client."""
        response = bytes((TAG_GET_RESPONSE, kind, invoke)) + whole
        limit = min(self.state.client_max_pdu, self.max_pdu)
        if (len(response) <= limit and not self.endless_blocks) or raw is None:
            return response
        if not self.state.conformance & CONFORMANCE_BLOCK_GET:
            return bytes((TAG_GET_RESPONSE, 1, invoke, 0x01, DataAccessResult.OTHER_REASON))
        # GetResponseWithDataBlock header: tag, type, invoke, last, block no. (4), choice,
        # octet-string length (up to 3 bytes): keep 12 bytes of room.
        size = max(1, limit - 12)
        self.state.pending_blocks = [raw[i : i + size] for i in range(0, len(raw), size)]
        self.state.block_number = 0
        return self._next_block(invoke, 0)

    def _next_block(self, invoke: int, acknowledged: int) -> bytes:
        """Send the block after ``acknowledged``."""
        state = self.state
        if acknowledged != state.block_number or not state.pending_blocks:
            state.pending_blocks = []
            return (
                bytes((TAG_GET_RESPONSE, 2, invoke, 1))
                + (acknowledged + 1).to_bytes(4, "big")
                + bytes((0x01, DataAccessResult.OTHER_REASON))
            )
        chunk = state.pending_blocks.pop(0)
        state.block_number += 1
        if self.endless_blocks:  # fault: the same block again and again, never the last
            state.pending_blocks.append(chunk)
        last = 1 if not state.pending_blocks else 0
        return (
            bytes((TAG_GET_RESPONSE, 2, invoke, last))
            + state.block_number.to_bytes(4, "big")
            + b"\x00"
            + encode_length(len(chunk))
            + chunk
        )

    # -- SET / ACTION ----------------------------------------------------------------------

    def _set(self, apdu: bytes) -> bytes:
        """Answer SET-Request normal."""
        kind, invoke = apdu[1], apdu[2]
        if kind != 1:
            return bytes((TAG_EXCEPTION_RESPONSE, 0x02, 0x02))
        class_id, logical_name, index, pos = _logical_name_of(apdu, 3)
        _, pos = self._access_selection(apdu, pos)
        value, _ = decode_data(apdu, pos)
        obj = self.objects.get(logical_name)
        result = DataAccessResult.SUCCESS
        if obj is None or obj.class_id != class_id:
            result = DataAccessResult.OBJECT_UNDEFINED
        elif index not in obj.setters:
            result = DataAccessResult.READ_WRITE_DENIED
        else:
            try:
                obj.setters[index](value)
            except CosemError as err:
                result = err.result
        return bytes((TAG_SET_RESPONSE, 1, invoke, result))

    def _action(self, apdu: bytes) -> bytes:
        """Answer ACTION-Request normal."""
        kind, invoke = apdu[1], apdu[2]
        if kind != 1:
            return bytes((TAG_EXCEPTION_RESPONSE, 0x02, 0x02))
        class_id, logical_name, index, pos = _logical_name_of(apdu, 3)
        parameters = None
        if pos < len(apdu) and apdu[pos] == 1:
            parameters, _ = decode_data(apdu, pos + 1)
        if logical_name == ASSOCIATION_LN and class_id == 15 and index == 1:
            try:
                answer = self._reply_to_hls(parameters)
            except CosemError as err:
                return bytes((TAG_ACTION_RESPONSE, 1, invoke, err.result, 0x00))
            return bytes((TAG_ACTION_RESPONSE, 1, invoke, 0, 0x01, 0x00)) + encode_data(answer)
        if self.state.hls_pending:
            return bytes((TAG_ACTION_RESPONSE, 1, invoke, DataAccessResult.READ_WRITE_DENIED, 0x00))
        obj = self.objects.get(logical_name)
        result = DataAccessResult.SUCCESS
        if obj is None or obj.class_id != class_id:
            result = DataAccessResult.OBJECT_UNDEFINED
        elif index not in obj.methods:
            result = DataAccessResult.READ_WRITE_DENIED
        else:
            try:
                obj.methods[index](parameters)
            except CosemError as err:
                result = err.result
        return bytes((TAG_ACTION_RESPONSE, 1, invoke, result, 0x00))


def describe(logical_name: bytes) -> str:
    """Return the dotted OBIS code of a logical name."""
    return obis_to_str(logical_name)
