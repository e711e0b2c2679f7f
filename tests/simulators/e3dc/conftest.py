"""Fixtures for the simulator tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Re-enable sockets (127.0.0.1 only) after the HA plugin's setup hook disabled them."""
