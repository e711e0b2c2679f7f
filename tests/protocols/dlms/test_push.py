"""Push / listen mode: DATA-NOTIFICATION decoding, ciphering, list recognition."""

from __future__ import annotations

import contextlib
import datetime as dt

from dlms_cosem.protocol.xdlms.data_notification import DataNotification as CosemNotification
from dlms_cosem.protocol.xdlms.general_global_cipher import GeneralGlobalCipher
from dlms_cosem.security import SecurityControlField, encrypt as cosem_encrypt
from dlms_cosem.utils import parse_as_dlms_data
from gurux_dlms import GXByteBuffer, GXReplyData  # type: ignore[import-untyped]
from gurux_dlms.enums import (  # type: ignore[import-untyped]
    Authentication,
    InterfaceType,
    Security,
)
from gurux_dlms.secure import GXDLMSSecureClient  # type: ignore[import-untyped]
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meterlink.protocols.dlms.axdr import (
    CosemDateTime,
    DataItem,
    DataTag,
    decode_data,
    decode_data_exact,
    decode_length,
    encode_data,
    encode_length,
    obis_from_str,
    obis_to_str,
)
from custom_components.meterlink.protocols.dlms.cipher import (
    AUTHENTICATION_KEY,
    BLOCK_CIPHER_KEY,
    encrypt_apdu,
    parse_general_ciphering,
)
from custom_components.meterlink.protocols.dlms.errors import (
    DlmsDataError,
    DlmsDecipherError,
    DlmsError,
    DlmsUnsupportedError,
)
from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
from custom_components.meterlink.protocols.dlms.push import (
    DlmsPushDecoder,
    PushFraming,
    decode_push_apdu,
    parse_data_notification,
)
from simulators.dlms.han import (
    HanList,
    HanSample,
    PushSecurity,
    frame_push,
    notification_apdu,
    protect,
)

EK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AK = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")
TITLE = b"KFM\x10\x20\x30\x40\x50"
SAMPLE = HanSample()


def _secured(security: DlmsSecurity) -> PushSecurity:
    return PushSecurity(
        security=security, system_title=TITLE, block_cipher_key=EK, authentication_key=AK
    )


# --- A-XDR --------------------------------------------------------------------------------


def test_lengths_and_obis_helpers() -> None:
    assert encode_length(5) == b"\x05"
    assert encode_length(0x1F8) == b"\x82\x01\xf8"
    assert decode_length(b"\x82\x01\xf8", 0) == (0x1F8, 3)
    assert obis_to_str(obis_from_str("1-0:1.8.0.255")) == "1.0.1.8.0.255"
    assert obis_from_str("1.0.1.8.0") == bytes((1, 0, 1, 8, 0, 255))
    with pytest.raises(DlmsDataError, match="six numbers"):
        obis_from_str("1.2.x")
    with pytest.raises(DlmsDataError, match="length bytes"):
        decode_length(b"\x85\x00", 0)


_SIMPLE = st.one_of(
    st.builds(
        lambda v: DataItem(tag=DataTag.DOUBLE_LONG, value=v), st.integers(-(2**31), 2**31 - 1)
    ),
    st.builds(lambda v: DataItem(tag=DataTag.LONG_UNSIGNED, value=v), st.integers(0, 65535)),
    st.builds(lambda v: DataItem(tag=DataTag.INTEGER, value=v), st.integers(-128, 127)),
    st.builds(lambda v: DataItem(tag=DataTag.LONG64, value=v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: DataItem(tag=DataTag.ENUM, value=v), st.integers(0, 255)),
    st.builds(lambda v: DataItem(tag=DataTag.BOOLEAN, value=v), st.booleans()),
    st.builds(lambda v: DataItem(tag=DataTag.OCTET_STRING, value=v), st.binary(max_size=200)),
    st.builds(
        lambda v: DataItem(tag=DataTag.VISIBLE_STRING, value=v),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    ),
    st.builds(lambda v: DataItem(tag=DataTag.FLOAT64, value=v), st.floats(allow_nan=False)),
    st.just(DataItem(tag=DataTag.NULL, value=None)),
)
_DATA = st.recursive(
    _SIMPLE,
    lambda children: st.builds(
        lambda tag, items: DataItem(tag=tag, value=tuple(items)),
        st.sampled_from([DataTag.STRUCTURE, DataTag.ARRAY]),
        st.lists(children, max_size=6),
    ),
    max_leaves=30,
)


@given(_DATA)
def test_data_round_trip(item: DataItem) -> None:
    assert decode_data_exact(encode_data(item)) == item


_INT_TAGS = [
    (DataTag.DOUBLE_LONG, -(2**31), 2**31 - 1),
    (DataTag.DOUBLE_LONG_UNSIGNED, 0, 2**32 - 1),
    (DataTag.LONG, -(2**15), 2**15 - 1),
    (DataTag.LONG_UNSIGNED, 0, 2**16 - 1),
    (DataTag.INTEGER, -128, 127),
    (DataTag.UNSIGNED, 0, 255),
    (DataTag.LONG64_UNSIGNED, 0, 2**64 - 1),
]
_FLAT = st.lists(
    st.one_of(
        *(
            st.builds(lambda v, t=tag: DataItem(tag=t, value=v), st.integers(low, high))
            for tag, low, high in _INT_TAGS
        ),
        st.builds(lambda v: DataItem(tag=DataTag.OCTET_STRING, value=v), st.binary(max_size=150)),
    ),
    max_size=12,
)


@given(_FLAT)
def test_data_matches_dlms_cosem(items: list[DataItem]) -> None:
    wire = encode_data(DataItem(tag=DataTag.STRUCTURE, value=tuple(items)))
    theirs = parse_as_dlms_data(wire)
    ours = decode_data_exact(wire)
    assert [bytes(v) if isinstance(v, bytearray) else v for v in theirs] == [
        child.value for child in ours.children
    ]


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_data_fuzz_only_typed_errors(data: bytes) -> None:
    with contextlib.suppress(DlmsError):
        decode_data(data)


def test_data_errors_name_the_problem() -> None:
    with pytest.raises(DlmsDataError, match="unknown Data tag 0x07"):
        decode_data(b"\x07")
    with pytest.raises(DlmsDataError, match="double_long_unsigned at offset 1 needs 4"):
        decode_data(b"\x06\x00")
    with pytest.raises(DlmsDataError, match="claims 9 elements"):
        decode_data(b"\x02\x09\x00")
    with pytest.raises(DlmsUnsupportedError, match="compact_array"):
        decode_data(b"\x13\x00")
    with pytest.raises(DlmsDataError, match="left after"):
        decode_data_exact(b"\x00\x00")
    with pytest.raises(DlmsDataError, match="nested deeper"):
        decode_data(b"\x02\x01" * 20 + b"\x00")


def test_cosem_date_time() -> None:
    when = dt.datetime(2026, 3, 4, 5, 6, 7, 890000)  # noqa: DTZ001
    stamp = CosemDateTime.from_datetime(when, deviation_min=-60)
    assert CosemDateTime.from_bytes(stamp.to_bytes()) == stamp
    assert stamp.to_datetime() == when
    unspecified = CosemDateTime.from_bytes(b"\xff\xff" + b"\xff" * 7 + b"\x80\x00\xff")
    assert unspecified.year is None
    assert unspecified.deviation_min is None
    assert unspecified.to_datetime() is None


# --- Plain notifications, every list format -----------------------------------------------

EXPECTED_COMMON = {
    "1.0.1.7.0.255": (1830, "W"),
    "1.0.32.7.0.255": (230.1, "V"),
    "1.0.31.7.0.255": (5.21, "A"),
    "1.0.1.8.0.255": (12345670, "Wh"),
}


@pytest.mark.parametrize(
    ("han_list", "list_id", "manufacturer", "obis_prefix", "precision"),
    [
        (HanList.AIDON, "AIDON_V0001", "Aidon", "1.0", {"1.0.31.7.0.255": 0.01}),
        (HanList.KAMSTRUP, "Kamstrup_V0001", "Kamstrup", "1.1", {"1.0.32.7.0.255": 0.1}),
        (HanList.KAIFA, "KFM_001", "Kaifa", "1.0", {}),
        (HanList.LANDIS_GYR, "generic", "Kaifa", "1.0", {}),
    ],
)
def test_plain_lists_decode_scaled_once(
    han_list: HanList,
    list_id: str,
    manufacturer: str,
    obis_prefix: str,
    precision: dict[str, float],
) -> None:
    apdu = notification_apdu(han_list, SAMPLE)
    ciphered = protect(apdu, _secured(DlmsSecurity.ENCRYPTION), 1)
    notification = decode_push_apdu(ciphered, block_cipher_key=EK)
    assert notification.push_list.list_id == list_id
    assert notification.push_list.manufacturer == manufacturer
    for obis, (value, unit) in EXPECTED_COMMON.items():
        code = obis_prefix + obis[3:]
        reading = notification.reading(code)
        assert reading is not None, code
        assert reading.unit == unit
        assert reading.value == pytest.approx(
            value, abs=precision.get(obis, 10 if unit == "Wh" else 1e-9)
        )
    assert set(notification.push_list.obis_codes) == {r.obis for r in notification.readings}
    if han_list is not HanList.AIDON:
        assert notification.timestamp == SAMPLE.timestamp


def test_unciphered_notification_and_kaifa_list1() -> None:
    notification = decode_push_apdu(notification_apdu(HanList.KAIFA_LIST1, SAMPLE))
    assert notification.security is DlmsSecurity.NONE
    assert notification.system_title is None
    assert notification.push_list.list_id == "KFM_001/list1"
    assert [(r.obis, r.value, r.unit) for r in notification.readings] == [
        ("1.0.1.7.0.255", 1830, "W")
    ]


def test_raw_value_kept_next_to_scaled_value() -> None:
    notification = decode_push_apdu(notification_apdu(HanList.AIDON, SAMPLE))
    voltage = notification.reading("1.0.32.7.0.255")
    assert voltage is not None
    assert (voltage.raw, voltage.scaler, voltage.value) == (2301, -1, 230.1)
    meter_id = notification.reading("0.0.96.1.0.255")
    assert meter_id is not None
    assert meter_id.value == SAMPLE.meter_id
    clock = notification.reading("0.0.1.0.0.255")
    assert clock is not None
    assert clock.value == SAMPLE.timestamp


def test_dlms_cosem_parses_our_notification() -> None:
    apdu = notification_apdu(HanList.KAIFA, SAMPLE)
    theirs = CosemNotification.from_bytes(apdu)
    ours = parse_data_notification(apdu)
    assert theirs.long_invoke_id_and_priority.long_invoke_id == ours.invoke_id & 0xFFFFFF
    assert theirs.date_time is not None
    assert theirs.date_time.replace(tzinfo=None) == SAMPLE.timestamp
    assert theirs.body == encode_data(ours.body)


# --- Ciphering ----------------------------------------------------------------------------


def test_dlms_cosem_decrypts_our_authenticated_encryption() -> None:
    apdu = notification_apdu(HanList.AIDON, SAMPLE)
    ciphered = protect(apdu, _secured(DlmsSecurity.AUTHENTICATED_ENCRYPTION), 77)
    parts = parse_general_ciphering(ciphered)
    assert (parts.system_title, parts.invocation_counter, parts.security_control) == (
        TITLE,
        77,
        0x30,
    )
    theirs = GeneralGlobalCipher(
        system_title=parts.system_title,
        security_control=SecurityControlField.from_bytes(b"\x30"),
        invocation_counter=parts.invocation_counter,
        ciphered_text=parts.ciphertext,
    )
    assert theirs.to_plain_apdu(EK, AK) == apdu


def test_we_decrypt_dlms_cosem_ciphertext() -> None:
    apdu = notification_apdu(HanList.KAMSTRUP, SAMPLE)
    ciphertext = cosem_encrypt(
        security_control=SecurityControlField(security_suite=0, authenticated=True, encrypted=True),
        system_title=TITLE,
        invocation_counter=5,
        key=EK,
        plain_text=apdu,
        auth_key=AK,
    )
    content = b"\x30" + (5).to_bytes(4, "big") + ciphertext
    wire = b"\xdb\x08" + TITLE + encode_length(len(content)) + content
    notification = decode_push_apdu(wire, block_cipher_key=EK, authentication_key=AK)
    assert notification.invocation_counter == 5
    assert notification.security is DlmsSecurity.AUTHENTICATED_ENCRYPTION
    assert notification.push_list.list_id == "Kamstrup_V0001"


@pytest.mark.parametrize(
    ("security", "gurux_security"),
    [
        (DlmsSecurity.NONE, Security.NONE),
        (DlmsSecurity.ENCRYPTION, Security.ENCRYPTION),
        (DlmsSecurity.AUTHENTICATED_ENCRYPTION, Security.AUTHENTICATION_ENCRYPTION),
    ],
)
def test_gurux_reads_our_hdlc_push_frames(
    security: DlmsSecurity, gurux_security: int, capsys: pytest.CaptureFixture[str]
) -> None:
    apdu = notification_apdu(HanList.LANDIS_GYR, SAMPLE)
    frames = frame_push(protect(apdu, _secured(security), 9), PushFraming.HDLC, max_info=2000)
    assert len(frames) == 1
    client = GXDLMSSecureClient(True, 16, 1, Authentication.NONE, None, InterfaceType.HDLC)
    client.ciphering.security = gurux_security
    client.ciphering.blockCipherKey = EK
    client.ciphering.authenticationKey = AK
    reply, notify = GXReplyData(), GXReplyData()
    client.getData(GXByteBuffer(frames[0]), reply, notify)
    capsys.readouterr()
    ours = decode_push_apdu(
        protect(apdu, _secured(security), 9), block_cipher_key=EK, authentication_key=AK
    )
    values = list(notify.value)
    voltage = ours.reading("1.0.32.7.0.255")
    assert voltage is not None
    assert voltage.raw in values
    assert bytes(values[0]) == bytes((0, 0, 1, 0, 0, 255))
    assert len(values) == 2 + 3 * (len(ours.readings) - 2) + 2


@pytest.mark.parametrize(
    ("security", "ek", "ak", "secret"),
    [
        (DlmsSecurity.ENCRYPTION, AK, None, BLOCK_CIPHER_KEY),
        (DlmsSecurity.AUTHENTICATED_ENCRYPTION, EK, EK, AUTHENTICATION_KEY),
        (DlmsSecurity.AUTHENTICATED_ENCRYPTION, AK, AK, BLOCK_CIPHER_KEY),
        (DlmsSecurity.AUTHENTICATED_ENCRYPTION, AK, EK[:8], AUTHENTICATION_KEY),
        (DlmsSecurity.ENCRYPTION, None, None, BLOCK_CIPHER_KEY),
        (DlmsSecurity.AUTHENTICATED_ENCRYPTION, EK, None, AUTHENTICATION_KEY),
        (DlmsSecurity.AUTHENTICATION, EK, EK, AUTHENTICATION_KEY),
    ],
)
def test_wrong_key_names_the_key(
    security: DlmsSecurity, ek: bytes | None, ak: bytes | None, secret: str
) -> None:
    ciphered = protect(notification_apdu(HanList.KAIFA, SAMPLE), _secured(security), 3)
    with pytest.raises(DlmsDecipherError) as err:
        decode_push_apdu(ciphered, block_cipher_key=ek, authentication_key=ak)
    assert err.value.secret == secret
    assert secret.replace("_", " ") in str(err.value)


def test_authentication_only_round_trip() -> None:
    apdu = notification_apdu(HanList.KAIFA, SAMPLE)
    ciphered = protect(apdu, _secured(DlmsSecurity.AUTHENTICATION), 3)
    assert apdu in ciphered  # readable, only a tag added
    notification = decode_push_apdu(ciphered, block_cipher_key=EK, authentication_key=AK)
    assert notification.security is DlmsSecurity.AUTHENTICATION


def test_unsupported_and_malformed_ciphering() -> None:
    apdu = notification_apdu(HanList.KAIFA_LIST1, SAMPLE)
    good = encrypt_apdu(
        apdu,
        security=DlmsSecurity.ENCRYPTION,
        system_title=TITLE,
        invocation_counter=1,
        block_cipher_key=EK,
        authentication_key=None,
    )
    suite1 = bytearray(good)
    suite1[11] |= 0x01
    with pytest.raises(DlmsUnsupportedError, match="suite 1"):
        decode_push_apdu(bytes(suite1), block_cipher_key=EK)
    compressed = bytearray(good)
    compressed[11] |= 0x80
    with pytest.raises(DlmsUnsupportedError, match="compressed"):
        decode_push_apdu(bytes(compressed), block_cipher_key=EK)
    with pytest.raises(DlmsDataError, match="ciphered content length"):
        decode_push_apdu(good[:-1], block_cipher_key=EK)
    with pytest.raises(DlmsDataError, match="system title of 8 bytes is cut off"):
        decode_push_apdu(good[:6])
    with pytest.raises(DlmsDataError, match="expected DATA-NOTIFICATION"):
        decode_push_apdu(b"\xc4\x01\x00")
    with pytest.raises(DlmsDataError, match="date-time length is 5"):
        decode_push_apdu(b"\x0f\x00\x00\x00\x01\x05\x00")
    with pytest.raises(DlmsUnsupportedError, match="neither OBIS"):
        decode_push_apdu(b"\x0f\x00\x00\x00\x01\x00\x02\x02\x11\x01\x11\x02")


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_push_apdu_fuzz_only_typed_errors(data: bytes) -> None:
    with contextlib.suppress(DlmsError):
        decode_push_apdu(b"\x0f" + data)
    with contextlib.suppress(DlmsError):
        decode_push_apdu(b"\xdb\x08" + TITLE + data, block_cipher_key=EK, authentication_key=AK)


@settings(max_examples=100)
@given(st.binary(min_size=1, max_size=8), st.integers(min_value=0, max_value=400))
def test_push_apdu_fuzz_mutations(junk: bytes, position: int) -> None:
    apdu = bytearray(notification_apdu(HanList.AIDON, SAMPLE))
    apdu[position : position + len(junk)] = junk
    with contextlib.suppress(DlmsError):
        decode_push_apdu(bytes(apdu))


# --- Stream decoder -----------------------------------------------------------------------


@pytest.mark.parametrize("framing", [PushFraming.HDLC, PushFraming.MBUS])
@pytest.mark.parametrize(
    "security",
    [DlmsSecurity.NONE, DlmsSecurity.ENCRYPTION, DlmsSecurity.AUTHENTICATED_ENCRYPTION],
)
@given(sizes=st.lists(st.integers(min_value=1, max_value=97), max_size=40))
@settings(max_examples=15, deadline=None)
def test_stream_decoder_in_chunks(
    framing: PushFraming, security: DlmsSecurity, sizes: list[int]
) -> None:
    wire = b""
    for counter, han_list in enumerate((HanList.AIDON, HanList.KAMSTRUP, HanList.KAIFA)):
        apdu = protect(notification_apdu(han_list, SAMPLE), _secured(security), counter)
        wire += b"".join(frame_push(apdu, framing, max_info=128))
    decoder = DlmsPushDecoder(framing=framing, block_cipher_key=EK, authentication_key=AK)
    out = []
    pos = 0
    for size in [*sizes, len(wire)]:
        decoder.feed(wire[pos : pos + size])
        pos += size
        out.extend(decoder.notifications())
    assert [n.push_list.list_id for n in out] == ["AIDON_V0001", "Kamstrup_V0001", "KFM_001"]
    if security is not DlmsSecurity.NONE:
        assert [n.invocation_counter for n in out] == [0, 1, 2]
        assert all(n.system_title == TITLE for n in out)


def test_stream_decoder_continues_after_bad_frame_and_wrong_key() -> None:
    good = frame_push(notification_apdu(HanList.KAIFA_LIST1, SAMPLE), PushFraming.HDLC)[0]
    bad = bytearray(good)
    bad[-3] ^= 0xFF
    ciphered = protect(
        notification_apdu(HanList.KAIFA_LIST1, SAMPLE), _secured(DlmsSecurity.ENCRYPTION), 1
    )
    foreign = frame_push(ciphered, PushFraming.HDLC)[0]
    decoder = DlmsPushDecoder(block_cipher_key=AK)
    decoder.feed(bytes(bad) + foreign + good)
    with pytest.raises(DlmsError, match="FCS"):
        decoder.next_notification()
    with pytest.raises(DlmsDecipherError):
        decoder.next_notification()
    notification = decoder.next_notification()
    assert notification is not None
    assert notification.readings[0].value == 1830


@pytest.mark.parametrize(
    ("security", "gurux_security"),
    [(DlmsSecurity.NONE, Security.NONE), (DlmsSecurity.ENCRYPTION, Security.ENCRYPTION)],
)
def test_gurux_reads_our_mbus_push_frames(
    security: DlmsSecurity, gurux_security: int, capsys: pytest.CaptureFixture[str]
) -> None:
    apdu = notification_apdu(HanList.LANDIS_GYR, SAMPLE)
    ciphered = protect(apdu, _secured(security), 4)
    frames = frame_push(ciphered, PushFraming.MBUS)
    assert len(frames) == (1 if security is DlmsSecurity.NONE else 2)
    client = GXDLMSSecureClient(True, 16, 1, Authentication.NONE, None, InterfaceType.WIRED_MBUS)
    client.ciphering.security = gurux_security
    client.ciphering.blockCipherKey = EK
    reply, notify = GXReplyData(), GXReplyData()
    for frame in frames:
        client.getData(GXByteBuffer(frame), reply, notify)
    capsys.readouterr()
    assert notify.complete
    ours = decode_push_apdu(ciphered, block_cipher_key=EK)
    power = ours.reading("1.0.1.7.0.255")
    assert power is not None
    assert power.raw in list(notify.value)
