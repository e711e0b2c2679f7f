"""Opening a push port that refuses its settings is a typed error, not a termios.error."""

from __future__ import annotations

import contextlib
import os

import pytest

from custom_components.meterlink.protocols.dlms.errors import DlmsConnectionError
from custom_components.meterlink.protocols.dlms.listener import DlmsPushListener


async def test_missing_port_is_a_connection_error() -> None:
    listener = DlmsPushListener(serial_port="/dev/does-not-exist-meterlink", timeout=5)
    with pytest.raises(DlmsConnectionError, match="does-not-exist"):
        await listener.open()
    await listener.close()


async def test_port_refusing_its_settings_is_a_connection_error() -> None:
    master, slave = os.openpty()
    try:
        # Linux ptys refuse 8E1 once configured; whatever the kernel says must come out typed
        listener = DlmsPushListener(serial_port=os.ttyname(slave), parity="E", timeout=5)
        with contextlib.suppress(DlmsConnectionError):  # refused, as a typed error, or opened
            await listener.open()
        await listener.close()
    finally:
        os.close(master)
        os.close(slave)
