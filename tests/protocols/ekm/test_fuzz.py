"""Hypothesis fuzzing of the EKM codec: only our typed errors may escape."""

from __future__ import annotations

import contextlib

import ekmmeters  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.errors import EkmError
from custom_components.meterlink.protocols.ekm.models import EkmBlock

from . import samples

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEVEN_BIT = st.binary(min_size=0, max_size=300).map(codec.strip_parity)
GOOD = {
    EkmBlock.V3: codec.encode_block(samples.v3()),
    EkmBlock.V4_A: codec.encode_block(samples.v4_a()),
    EkmBlock.V4_B: codec.encode_block(samples.v4_b(), kwh_scale=1),
}


def _with_crc(body: bytes) -> bytes:
    return b"\x02" + body + codec.crc16_bytes(body)


@FUZZ
@given(data=st.binary(min_size=0, max_size=400), block=st.sampled_from(list(EkmBlock)))
def test_decode_block_arbitrary_bytes(data: bytes, block: EkmBlock) -> None:
    with contextlib.suppress(EkmError):
        codec.decode_block(data, block, address=1, kwh_scale=1)


@FUZZ
@given(body=st.binary(min_size=252, max_size=252), block=st.sampled_from(list(EkmBlock)))
def test_decode_block_good_crc_random_body(body: bytes, block: EkmBlock) -> None:
    with contextlib.suppress(EkmError):
        codec.decode_block(_with_crc(codec.strip_parity(body)), block, kwh_scale=2)


@FUZZ
@given(
    block=st.sampled_from(list(EkmBlock)),
    edits=st.lists(st.tuples(st.integers(1, 252), st.integers(0, 255)), max_size=8),
)
def test_decode_block_mutated_good_frames(block: EkmBlock, edits: list[tuple[int, int]]) -> None:
    frame = bytearray(GOOD[block])
    for pos, value in edits:
        frame[pos] = value
    raw = _with_crc(codec.strip_parity(bytes(frame[1:253])))
    try:
        reading = codec.decode_block(raw, block, kwh_scale=1)
    except EkmError:
        return
    # Whatever decodes must encode back to the same bytes.
    assert codec.encode_block(reading, kwh_scale=1) == raw


@FUZZ
@given(
    block=st.sampled_from(list(EkmBlock)),
    digits=st.binary(min_size=255, max_size=255).map(lambda b: bytes(48 + x % 10 for x in b)),
)
def test_numeric_fields_round_trip(block: EkmBlock, digits: bytes) -> None:
    frame = bytearray(GOOD[block])
    for spec in codec.LAYOUTS[block]:
        if spec.kind in (
            codec.Kind.INT,
            codec.Kind.ENERGY,
            codec.Kind.DIV10,
            codec.Kind.DIV100,
            codec.Kind.SCALED,
        ):
            frame[spec.offset : spec.offset + spec.length] = bytes(
                digits[spec.offset : spec.offset + spec.length]
            )
    frame[230:231] = b"1" if block is EkmBlock.V4_A else frame[230:231]
    raw = _with_crc(bytes(frame[1:253]))
    reading = codec.decode_block(raw, block, kwh_scale=1)
    assert codec.encode_block(reading, kwh_scale=1) == raw


@FUZZ
@given(chunks=st.lists(st.binary(max_size=80), max_size=12), ack=st.booleans())
def test_client_decoder_arbitrary_chunks(chunks: list[bytes], ack: bool) -> None:
    decoder = codec.EkmDecoder()
    decoder.expect_ack() if ack else decoder.expect_block()
    for chunk in chunks:
        decoder.feed(chunk)
        try:
            decoder.next_event()
        except EkmError:
            decoder.expect_block()


@FUZZ
@given(chunks=st.lists(st.binary(max_size=80), max_size=12))
def test_meter_decoder_arbitrary_chunks(chunks: list[bytes]) -> None:
    decoder = codec.EkmRequestDecoder()
    for chunk in chunks:
        decoder.feed(chunk)
        for _ in range(200):
            try:
                if decoder.next_event() is None:
                    break
            except EkmError:
                continue


@FUZZ
@given(data=SEVEN_BIT)
def test_crc_matches_ekmmeters(data: bytes) -> None:
    assert codec.crc16(data) == int(ekmmeters.Meter.calc_crc16(data.decode("ascii")), 16)


@FUZZ
@given(address=st.one_of(st.integers(), st.text(max_size=16)))
def test_address_normalisation_only_typed_errors(address: int | str) -> None:
    try:
        result = codec.normalize_address(address)
    except EkmError:
        return
    assert len(result) == 12
    assert result.isdigit()
    assert int(result) == int(address)
