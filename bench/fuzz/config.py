"""Fuzz the config-flow input parsers: serial and HTTP addresses, EKM meter addresses, DLMS OBIS
codes and keys.

Input: UTF-8 text (undecodable bytes replaced), given to every parser. These parsers sit on the
Home Assistant side, so each may raise the one error its form handler catches (ValueError for
the URL helpers, EkmFlowError for the address list) besides MeterLink's typed errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.fuzz import _harness as h

with h.instrumented(protocols_only=False):
    from custom_components.meterlink import helpers
    from custom_components.meterlink.protocols.dlms.axdr import obis_from_str
    from custom_components.meterlink.protocols.ekm.client import resolve_url
    from custom_components.meterlink.protocols.ekm.codec import normalize_address
    from custom_components.meterlink.systems.dlms import const as dlms_const
    from custom_components.meterlink.systems.dlms.flow import check_secrets
    from custom_components.meterlink.systems.dlms.units import describe, obis_groups
    from custom_components.meterlink.systems.ekm.flow import EkmFlowError, parse_addresses

if TYPE_CHECKING:
    from collections.abc import Callable


def _form[T](function: Callable[[str], T], text: str, error: type[Exception]) -> T | None:
    """Call a form parser; its documented form error gives None, anything else escapes."""
    try:
        return h.call(function, text)
    except error:
        return None


def one_input(data: bytes) -> None:
    """Give the text to every config-flow parser."""
    text = data.decode("utf-8", "replace")
    for url in (
        _form(helpers.normalise_serial_url, text, ValueError),
        _form(helpers.normalise_http_url, text, ValueError),
    ):
        if url is not None:  # canonical forms are fixed points
            _form(helpers.normalise_serial_url, url, ValueError)
            _form(helpers.normalise_http_url, url, ValueError)
    h.call(resolve_url, text)
    addresses = _form(parse_addresses, text, EkmFlowError)
    for address in addresses or ():
        normalize_address(address)
    h.call(normalize_address, text)
    h.call(obis_from_str, text)
    if obis_groups(text):
        describe(text, text[-4:] or None)
    secrets: dict[str, Any] = {
        dlms_const.CONF_BLOCK_CIPHER_KEY: text,
        dlms_const.CONF_AUTHENTICATION_KEY: text[::-1],
        dlms_const.CONF_SYSTEM_TITLE: text,
    }
    check_secrets(secrets)
    check_secrets(dict(secrets), listen=True)


if __name__ == "__main__":
    h.run("config", one_input)
