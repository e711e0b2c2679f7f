"""asyncio listener for push meters (HAN/P1-style ports) over TCP or a serial port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Self

from .errors import (
    DlmsConnectionError,
    DlmsDecipherError,
    DlmsError,
    DlmsIntegrityError,
    DlmsTimeoutError,
)
from .models import DlmsSecurity
from .push import DlmsPushDecoder, PushFraming

if TYPE_CHECKING:
    from collections.abc import Callable

    from custom_components.meterlink.protocols.capture import FrameCallback

    from .models import DlmsPushNotification

_LOGGER = logging.getLogger(__name__)
# HAN ports (NEK/Aidon/Kaifa/Kamstrup) send at 2400 baud 8E1; M-Bus HAN ports often 2400 8E1.
HAN_DEFAULT_BAUDRATE = 2400


try:
    import termios

    _PORT_ERRORS: tuple[type[Exception], ...] = (OSError, termios.error)
except ImportError:  # pragma: no cover - not POSIX
    _PORT_ERRORS = (OSError,)


# Decipher failures in a row, after the keys had worked, that mean the meter's keys changed.
KEY_FAILURES = 3


class DlmsPushListener:
    """Read pushed notifications from a TCP bridge or a serial port, one at a time.

    ``receive()`` returns the next notification. Malformed frames are skipped (and reported to
    ``on_error``); a wrong key raises :class:`DlmsDecipherError` so the caller can start a
    reauthentication. Once the keys have deciphered a notification, one that fails its check
    is taken for damage on the line and skipped (as :class:`DlmsIntegrityError`); only
    ``KEY_FAILURES`` failures in a row (the meter's keys were changed) raise. A closed link
    raises :class:`DlmsConnectionError` (call ``receive`` again to reconnect).
    """

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        serial_port: str | None = None,
        baudrate: int = HAN_DEFAULT_BAUDRATE,
        parity: str = "E",
        framing: PushFraming = PushFraming.HDLC,
        block_cipher_key: bytes | None = None,
        authentication_key: bytes | None = None,
        timeout: float = 60.0,
        on_frame: FrameCallback | None = None,
        on_error: Callable[[DlmsError], None] | None = None,
    ) -> None:
        """Describe where the push data comes from and which keys decipher it."""
        self.host, self.port = host, port
        self.serial_port, self.baudrate, self.parity = serial_port, baudrate, parity
        self.framing = framing
        self.timeout = timeout
        self._keys = (block_cipher_key, authentication_key)
        self._on_frame = on_frame
        self._on_error = on_error
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = self._new_decoder()
        self._keys_proven = False  # a notification was deciphered with these keys
        self._key_failures = 0  # decipher failures in a row since

    def _new_decoder(self) -> DlmsPushDecoder:
        return DlmsPushDecoder(
            framing=self.framing, block_cipher_key=self._keys[0], authentication_key=self._keys[1]
        )

    async def __aenter__(self) -> Self:
        """Open the link."""
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        """Close the link."""
        await self.close()

    async def open(self) -> None:
        """Open the TCP connection or serial port."""
        await self.close()
        try:
            async with asyncio.timeout(self.timeout):
                if self.serial_port is not None:
                    import serial_asyncio_fast  # noqa: PLC0415 - only needed for serial ports

                    self._reader, self._writer = await serial_asyncio_fast.open_serial_connection(
                        url=self.serial_port, baudrate=self.baudrate, parity=self.parity
                    )
                elif self.host is not None and self.port is not None:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                else:
                    msg = "configure a host and port or a serial port to listen on"
                    raise DlmsConnectionError(msg)
        except TimeoutError as err:
            msg = "timed out opening the push port"
            raise DlmsTimeoutError(msg) from err
        except _PORT_ERRORS as err:  # a port may refuse its settings (termios.error)
            msg = f"cannot open the push port {self.serial_port or self.host}: {err}"
            raise DlmsConnectionError(msg) from err
        self._decoder = self._new_decoder()

    async def close(self) -> None:
        """Close the link."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1):
                    await writer.wait_closed()

    async def receive(self) -> DlmsPushNotification:
        """Return the next notification (reconnecting first if the link is closed)."""
        if self._reader is None:
            await self.open()
        reader = self._reader
        if reader is None:  # pragma: no cover - open() raised otherwise
            msg = "push port is not open"
            raise DlmsConnectionError(msg)
        while True:
            notification = self._next_decoded()
            if notification is not None:
                return notification
            chunk = await self._read(reader)
            if self._on_frame is not None:
                self._on_frame("rx", chunk)
            self._decoder.feed(chunk)

    def _next_decoded(self) -> DlmsPushNotification | None:
        """Return a buffered notification, skipping (and reporting) malformed frames."""
        while True:
            try:
                notification = self._decoder.next_notification()
            except DlmsDecipherError as err:
                self._key_failures += 1
                # (after it raised once, every further failure raises until a notification is
                # deciphered again: the caller is expected to stop and ask for the keys)
                if not self._keys_proven or self._key_failures >= KEY_FAILURES:
                    raise
                # the keys worked before: most likely a frame damaged on its way (told once per
                # run of failures: three in a row raise, and the caller starts a reauth)
                msg = f"a notification failed its integrity check: {err}"
                log = _LOGGER.warning if self._key_failures == 1 else _LOGGER.debug
                log("skipping push data: %s", msg)
                if self._on_error is not None:
                    self._on_error(DlmsIntegrityError(msg))
                continue
            except DlmsError as err:
                _LOGGER.debug("skipping malformed push data: %s", err)
                if self._on_error is not None:
                    self._on_error(err)
                continue
            if notification is not None and notification.security is not DlmsSecurity.NONE:
                self._keys_proven = True  # deciphered with the keys: they are right
                self._key_failures = 0
            return notification

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        """Read the next chunk; close and raise a typed error when the link fails."""
        try:
            async with asyncio.timeout(self.timeout):
                chunk = await reader.read(4096)
        except TimeoutError as err:
            await self.close()
            msg = f"no push data for {self.timeout} s"
            raise DlmsTimeoutError(msg) from err
        except OSError as err:
            await self.close()
            msg = f"push port failed: {err}"
            raise DlmsConnectionError(msg) from err
        if not chunk:
            await self.close()
            msg = "the push port was closed"
            raise DlmsConnectionError(msg)
        return chunk
