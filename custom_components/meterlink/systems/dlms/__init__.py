"""DLMS/COSEM electricity meters: polled over TCP or serial, or heard on a push (HAN/P1) port."""

from __future__ import annotations

from homeassistant.const import Platform

from ..base import MeterLinkSystem
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BLOCK_CIPHER_KEY,
    CONF_PASSWORD,
    SYSTEM_KEY,
)
from .flow import DlmsFlowMixin, DlmsOptionsFlow
from .runtime import async_setup_dlms_entry
from .services import ACTIONS

DLMS_SYSTEM = MeterLinkSystem(
    key=SYSTEM_KEY,
    platforms=(Platform.SENSOR, Platform.SWITCH),
    async_setup_entry=async_setup_dlms_entry,
    options_flow=DlmsOptionsFlow,
    redact=frozenset({CONF_PASSWORD, CONF_BLOCK_CIPHER_KEY, CONF_AUTHENTICATION_KEY}),
    actions=ACTIONS,
)

__all__ = ["DLMS_SYSTEM", "DlmsFlowMixin"]
