"""Shared pytest configuration."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Allow loopback sockets everywhere: simulators are real servers on 127.0.0.1.

    pytest-homeassistant-custom-component disables sockets for every test and then allows
    connections to 127.0.0.1 only; ``enable_socket`` lifts the first part, keeping the second.
    """
    for item in items:
        item.add_marker(pytest.mark.enable_socket)
