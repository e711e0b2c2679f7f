"""Our tag table against pye3dc's copy of E3/DC's rscpLib table."""

from __future__ import annotations

from e3dc._rscpTags import RscpError as PyError, RscpTag as PyTag, RscpType as PyType

from custom_components.meterlink.protocols.e3dc.tags import (
    TAG_NAMES,
    RscpErrorCode,
    RscpType,
    tag_name,
)


def test_every_tag_we_name_has_the_same_number_in_pye3dc() -> None:
    known = {member.name: member.value for member in PyTag}
    mismatched = {
        name: (hex(value), hex(known[name]))
        for value, name in TAG_NAMES.items()
        if name in known and known[name] != value
    }
    assert mismatched == {}
    # and every name we use exists there (no invented names).
    missing = sorted(name for name in TAG_NAMES.values() if name not in known)
    assert missing == []


def test_types_and_error_codes_match_pye3dc() -> None:
    assert {t.value for t in PyType} == {int(t) for t in RscpType}
    assert {e.value for e in PyError} == {int(e) for e in RscpErrorCode}


def test_tag_name_for_unknown_numbers() -> None:
    assert tag_name(0x01000001) == "EMS_REQ_POWER_PV"
    assert tag_name(0x0E8ABCDE) == "WB_0x0E8ABCDE"
    assert tag_name(0xEE000000) == "UNKNOWN_0xEE000000"
