"""Shared pytest configuration."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.secrets_guard",  # greps the suite's output for secrets
    "tests.slow_callbacks",  # fails a test whose MeterLink callback holds the loop > 50 ms
]


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Allow real sockets: simulators are real servers on 127.0.0.1.

    pytest-homeassistant-custom-component blocks sockets in every test's setup (a marker cannot
    lift that); the ``socket_enabled`` fixture runs after it and opens them again.
    """
