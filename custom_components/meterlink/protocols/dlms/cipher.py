"""AES-128-GCM ciphering of xDLMS APDUs, security suite 0 (Green Book clause 9.2.7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .axdr import decode_length, encode_length
from .errors import DlmsDataError, DlmsDecipherError, DlmsUnsupportedError
from .models import DlmsSecurity

if TYPE_CHECKING:
    from collections.abc import Callable

# Green Book 9.5 (xDLMS APDU tags): general-glo-ciphering and general-ded-ciphering.
TAG_GENERAL_GLO_CIPHERING = 0xDB
TAG_GENERAL_DED_CIPHERING = 0xDC
# Green Book 9.2.7.2.4.1 security control byte: bits 0-3 suite id, bit 4 authentication,
# bit 5 encryption, bit 6 broadcast key, bit 7 compression.
SC_AUTHENTICATION = 0x10
SC_ENCRYPTION = 0x20
SC_BROADCAST_KEY = 0x40
SC_COMPRESSION = 0x80
# Green Book 9.2.7.2.4.5: suite 0 uses a 12-byte authentication tag and IV = system title
# (8 bytes) || invocation counter (4 bytes).
TAG_LENGTH = 12
KEY_LENGTH = 16
SYSTEM_TITLE_LENGTH = 8

BLOCK_CIPHER_KEY = "block_cipher_key"
AUTHENTICATION_KEY = "authentication_key"


@dataclass(frozen=True, kw_only=True, slots=True)
class CipheredApdu:
    """The parts of a general-glo/ded-ciphering APDU."""

    tag: int
    system_title: bytes
    security_control: int
    invocation_counter: int
    ciphertext: bytes

    @property
    def security(self) -> DlmsSecurity:
        """Which protection the security control byte announces."""
        auth = bool(self.security_control & SC_AUTHENTICATION)
        enc = bool(self.security_control & SC_ENCRYPTION)
        if auth and enc:
            return DlmsSecurity.AUTHENTICATED_ENCRYPTION
        if enc:
            return DlmsSecurity.ENCRYPTION
        if auth:
            return DlmsSecurity.AUTHENTICATION
        return DlmsSecurity.NONE


def security_control_for(security: DlmsSecurity, *, suite: int = 0) -> int:
    """Return the security control byte for ``security``."""
    flags = {
        DlmsSecurity.NONE: 0,
        DlmsSecurity.AUTHENTICATION: SC_AUTHENTICATION,
        DlmsSecurity.ENCRYPTION: SC_ENCRYPTION,
        DlmsSecurity.AUTHENTICATED_ENCRYPTION: SC_AUTHENTICATION | SC_ENCRYPTION,
    }[security]
    return flags | suite


def parse_general_ciphering(apdu: bytes) -> CipheredApdu:
    """Split a general-glo-ciphering / general-ded-ciphering APDU into its fields."""
    apdu = bytes(apdu)
    if not apdu or apdu[0] not in (TAG_GENERAL_GLO_CIPHERING, TAG_GENERAL_DED_CIPHERING):
        msg = "APDU is not general-glo-ciphering (0xDB) or general-ded-ciphering (0xDC)"
        raise DlmsDataError(msg, snippet=apdu[:8])
    title_length, pos = decode_length(apdu, 1)
    system_title = apdu[pos : pos + title_length]
    if len(system_title) != title_length:
        msg = f"system title of {title_length} bytes is cut off"
        raise DlmsDataError(msg, snippet=apdu[:16])
    pos += title_length
    content_length, pos = decode_length(apdu, pos)
    content = apdu[pos:]
    if len(content) != content_length:
        msg = f"ciphered content length is {content_length}, {len(content)} bytes follow"
        raise DlmsDataError(msg, snippet=apdu[:16])
    if content_length < 5:  # noqa: PLR2004
        msg = "ciphered content has no room for security control and invocation counter"
        raise DlmsDataError(msg, snippet=content)
    return CipheredApdu(
        tag=apdu[0],
        system_title=system_title,
        security_control=content[0],
        invocation_counter=int.from_bytes(content[1:5], "big"),
        ciphertext=content[5:],
    )


def _check_key(name: str, key: bytes | None) -> bytes:
    """Return ``key`` or raise naming it when missing or the wrong size."""
    if key is None:
        msg = f"the frame is ciphered but no {name.replace('_', ' ')} is configured"
        raise DlmsDecipherError(msg, secret=name)
    if len(key) != KEY_LENGTH:
        msg = f"the {name.replace('_', ' ')} is {len(key)} bytes, AES-128 needs 16"
        raise DlmsDecipherError(msg, secret=name)
    return key


def _iv(system_title: bytes, invocation_counter: int) -> bytes:
    """Return the 12-byte GCM IV."""
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        msg = f"system title is {len(system_title)} bytes, suite 0 needs 8"
        raise DlmsDataError(msg, snippet=system_title)
    return system_title + invocation_counter.to_bytes(4, "big")


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-GCM's keystream (CTR from J0+1) without the tag, for encryption-only frames."""
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv + b"\x00\x00\x00\x02"))
    transform = cipher.encryptor()
    return transform.update(data) + transform.finalize()


def encrypt_apdu(
    plaintext: bytes,
    *,
    security: DlmsSecurity,
    system_title: bytes,
    invocation_counter: int,
    block_cipher_key: bytes | None,
    authentication_key: bytes | None,
    tag: int = TAG_GENERAL_GLO_CIPHERING,
) -> bytes:
    """Return a general-glo-ciphering APDU protecting ``plaintext`` (suite 0)."""
    sc = security_control_for(security)
    iv = _iv(system_title, invocation_counter)
    if security is DlmsSecurity.NONE:
        body = plaintext
    elif security is DlmsSecurity.ENCRYPTION:
        body = _ctr(_check_key(BLOCK_CIPHER_KEY, block_cipher_key), iv, plaintext)
    else:
        ek = _check_key(BLOCK_CIPHER_KEY, block_cipher_key)
        ak = _check_key(AUTHENTICATION_KEY, authentication_key)
        encryptor = Cipher(algorithms.AES(ek), modes.GCM(iv)).encryptor()
        if security is DlmsSecurity.AUTHENTICATION:
            encryptor.authenticate_additional_data(bytes((sc,)) + ak + plaintext)
            encryptor.finalize()
            body = plaintext + encryptor.tag[:TAG_LENGTH]
        else:
            encryptor.authenticate_additional_data(bytes((sc,)) + ak)
            ciphertext = encryptor.update(plaintext) + encryptor.finalize()
            body = ciphertext + encryptor.tag[:TAG_LENGTH]
    content = bytes((sc,)) + invocation_counter.to_bytes(4, "big") + body
    return (
        bytes((tag,))
        + encode_length(len(system_title))
        + system_title
        + encode_length(len(content))
        + content
    )


def decrypt_apdu(
    ciphered: CipheredApdu,
    *,
    block_cipher_key: bytes | None,
    authentication_key: bytes | None,
    plausible: Callable[[bytes], bool],
) -> bytes:
    """Return the plaintext APDU; a wrong key raises :class:`DlmsDecipherError` naming it.

    GCM cannot tell which key was wrong, so the keystream-decrypted text is checked with
    ``plausible``: if it looks like a valid APDU the block cipher key is right and a failing
    tag means the authentication key is wrong.
    """
    sc = ciphered.security_control
    if sc & SC_COMPRESSION:
        msg = "compressed ciphered APDUs are not supported"
        raise DlmsUnsupportedError(msg, snippet=bytes((sc,)))
    if sc & 0x0F:
        msg = f"security suite {sc & 0x0F} is not supported (only suite 0, AES-GCM-128)"
        raise DlmsUnsupportedError(msg, snippet=bytes((sc,)))
    security = ciphered.security
    if security is DlmsSecurity.NONE:
        return ciphered.ciphertext
    iv = _iv(ciphered.system_title, ciphered.invocation_counter)
    text = ciphered.ciphertext
    if security is DlmsSecurity.ENCRYPTION:
        plain = _ctr(_check_key(BLOCK_CIPHER_KEY, block_cipher_key), iv, text)
        if not plausible(plain):
            msg = "deciphered frame is not a valid APDU: the block cipher key is wrong"
            raise DlmsDecipherError(msg, secret=BLOCK_CIPHER_KEY)
        return plain
    if len(text) < TAG_LENGTH:
        msg = "ciphered APDU is shorter than its 12-byte authentication tag"
        raise DlmsDataError(msg, snippet=text)
    body, tag = text[:-TAG_LENGTH], text[-TAG_LENGTH:]
    ek = _check_key(BLOCK_CIPHER_KEY, block_cipher_key)
    ak = _check_key(AUTHENTICATION_KEY, authentication_key)
    decryptor = Cipher(
        algorithms.AES(ek), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)
    ).decryptor()
    if security is DlmsSecurity.AUTHENTICATION:
        decryptor.authenticate_additional_data(bytes((sc,)) + ak + body)
        plain = body
        body_for_gcm = b""
    else:
        decryptor.authenticate_additional_data(bytes((sc,)) + ak)
        plain = _ctr(ek, iv, body)
        body_for_gcm = body
    try:
        decryptor.update(body_for_gcm)
        decryptor.finalize()
    except InvalidTag:
        if plausible(plain):
            msg = "authentication tag does not match: the authentication key is wrong"
            raise DlmsDecipherError(msg, secret=AUTHENTICATION_KEY) from None
        msg = "deciphered frame is not a valid APDU: the block cipher key is wrong"
        raise DlmsDecipherError(msg, secret=BLOCK_CIPHER_KEY) from None
    return plain


# Green Book 9.5: service-specific glo- ciphered APDUs (no system title inside) and the
# plain tags they carry.
GLO_RESPONSE_TAGS = frozenset({0xCC, 0xCD, 0xCF})
TAG_GLO_GET_REQUEST = 0xC8


def parse_service_ciphering(apdu: bytes, *, system_title: bytes) -> CipheredApdu:
    """Split a service-specific glo- APDU (tag, length, SC, IC, ciphertext)."""
    apdu = bytes(apdu)
    length, pos = decode_length(apdu, 1)
    content = apdu[pos:]
    if len(content) != length or length < 5:  # noqa: PLR2004
        msg = f"ciphered APDU 0x{apdu[0]:02X} length is {length}, {len(content)} bytes follow"
        raise DlmsDataError(msg, snippet=apdu[:16])
    return CipheredApdu(
        tag=apdu[0],
        system_title=system_title,
        security_control=content[0],
        invocation_counter=int.from_bytes(content[1:5], "big"),
        ciphertext=content[5:],
    )


def encrypt_service_apdu(
    tag: int,
    plaintext: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    block_cipher_key: bytes | None,
    authentication_key: bytes | None,
) -> bytes:
    """Return a service-specific glo- APDU (authenticated encryption) around ``plaintext``."""
    whole = encrypt_apdu(
        plaintext,
        security=DlmsSecurity.AUTHENTICATED_ENCRYPTION,
        system_title=system_title,
        invocation_counter=invocation_counter,
        block_cipher_key=block_cipher_key,
        authentication_key=authentication_key,
    )
    parsed = parse_general_ciphering(whole)
    content = (
        bytes((parsed.security_control,))
        + parsed.invocation_counter.to_bytes(4, "big")
        + parsed.ciphertext
    )
    return bytes((tag,)) + encode_length(len(content)) + content
