"""Fixtures shared by this test folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Re-enable sockets after the HA plugin's setup hook disabled them (127.0.0.1 only).

    ``pytest_runtest_setup`` of pytest-homeassistant-custom-component runs after pytest-socket
    honoured the ``enable_socket`` marker; the ``socket_enabled`` fixture runs later still.
    """
