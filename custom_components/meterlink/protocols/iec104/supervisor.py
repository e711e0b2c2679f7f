"""Keeps an IEC 104 link up: reconnects with the client's backoff and re-interrogates.

After an outstation or gateway reboot the link comes back by itself, and a general
interrogation after every (re)connect refreshes every value that may have changed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from .errors import Iec104Error

if TYPE_CHECKING:
    from collections.abc import Callable

    from .client import Iec104Client

_LOGGER = logging.getLogger(__name__)


class Iec104Supervisor:
    """Runs one client: connect, interrogate, wait for loss, back off, repeat."""

    def __init__(
        self,
        client: Iec104Client,
        *,
        interrogate: bool = True,
        on_state: Callable[[bool, Exception | None], None] | None = None,
    ) -> None:
        """Wrap a client; ``on_state(connected, error)`` reports every change."""
        self.client = client
        self.interrogate = interrogate
        self._on_state = on_state
        self._task: asyncio.Task[None] | None = None
        self.connects = 0
        self.last_error: Exception | None = None

    def start(self) -> None:
        """Start supervising in a background task."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="meterlink iec104 supervisor")

    async def stop(self) -> None:
        """Stop supervising and close the link."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()

    def _report(self, connected: bool, error: Exception | None) -> None:
        """Tell the owner about a state change."""
        self.last_error = error
        if self._on_state is not None:
            self._on_state(connected, error)

    async def _run(self) -> None:
        """The supervision loop."""
        while True:
            try:
                await self.client.connect()
            except Iec104Error as err:
                self._report(False, err)  # noqa: FBT003
                await asyncio.sleep(max(self.client.reconnect_wait_s(), 0.01))
                continue
            self.connects += 1
            self._report(True, None)  # noqa: FBT003
            try:
                if self.interrogate:
                    await self.client.interrogation()
                error = await self.client.wait_disconnected()
            except Iec104Error as err:
                _LOGGER.debug("IEC 104 interrogation failed: %s", err)
                await self.client.close()
                error = err
            self._report(False, error)  # noqa: FBT003
