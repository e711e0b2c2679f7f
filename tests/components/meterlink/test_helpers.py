"""Tests of the shared helpers: counter guard, serial ports, URLs, frame capture."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from custom_components.meterlink.capture import MAX_FRAMES, FrameCapture
from custom_components.meterlink.helpers import (
    CounterGuard,
    error_translation,
    list_serial_ports,
    normalise_http_url,
    normalise_serial_url,
)
from custom_components.meterlink.protocols.dcs import (
    DcsAuthenticationError,
    DcsConnectionError,
    DcsMalformedResponseError,
    DcsServerError,
    DcsTimeoutError,
)
from custom_components.meterlink.protocols.errors import MeterLinkError

if TYPE_CHECKING:
    from pathlib import Path


def test_counter_guard_drops_backward_steps(caplog: pytest.LogCaptureFixture) -> None:
    guard = CounterGuard(name="R1", confirm=3)
    assert guard.accept(100.0) == 100.0
    assert guard.accept(101.5) == 101.5
    assert guard.accept(99.0) == 101.5  # a glitch: dropped
    assert "stepped backwards" in caplog.text
    assert guard.accept(102.0) == 102.0  # the glitch is forgotten
    assert guard.accept(None) is None


def test_counter_guard_accepts_flagged_reset() -> None:
    guard = CounterGuard(name="R1")
    guard.accept(5000.0)
    assert guard.accept(3.0, reset=True) == 3.0
    assert guard.accept(4.0) == 4.0


def test_counter_guard_accepts_a_persistent_drop_as_meter_replacement() -> None:
    guard = CounterGuard(name="R1", confirm=3)
    guard.accept(5000.0)
    assert guard.accept(10.0) == 5000.0
    assert guard.accept(10.5) == 5000.0
    assert guard.accept(11.0) == 11.0  # third lower read in a row: a new meter
    assert guard.accept(11.5) == 11.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0",
            "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0",
        ),
        ("/dev/ttyUSB0", "/dev/ttyUSB0"),
        ("COM3", "COM3"),
        ("socket://10.0.0.5:4001", "socket://10.0.0.5:4001"),
        ("rfc2217://bridge.local:2217", "rfc2217://bridge.local:2217"),
        ("RFC2217://bridge.local:2217?timeout=3", "rfc2217://bridge.local:2217?timeout=3"),
        ("10.0.0.5:4001", "socket://10.0.0.5:4001"),
        ("  bridge:23 ", "socket://bridge:23"),
    ],
)
def test_serial_urls(text: str, expected: str) -> None:
    assert normalise_serial_url(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no serial port"),
        ("socket://host", "not a serial port path"),
        ("socket://host:70000", "outside 1-65535"),
        ("http://host:80", "only socket:// and rfc2217://"),
        ("ttyUSB0", "not a serial port path"),
    ],
)
def test_bad_serial_urls(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalise_serial_url(text)


def test_serial_ports_listed_by_stable_path(tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    device = tmp_path / "ttyUSB0"
    device.touch()
    (by_id / "usb-FTDI_FT232R_A1-if00-port0").symlink_to(device)
    other = tmp_path / "ttyS0"
    other.touch()
    ports = list_serial_ports(
        by_id, devices=[(str(device), "FT232R USB UART"), (str(other), "n/a")]
    )
    by_device = {p.device: p for p in ports}
    usb = by_device[str(device)]
    assert usb.path == str(by_id / "usb-FTDI_FT232R_A1-if00-port0")
    assert usb.label == f"{usb.path} ({device}) - FT232R USB UART"
    plain = by_device[str(other)]
    assert plain.path == str(other)
    assert plain.label == str(other)


def test_serial_ports_without_by_id_dir(tmp_path: Path) -> None:
    ports = list_serial_ports(tmp_path / "missing", devices=[("/dev/ttyACM0", "")])
    assert [p.path for p in ports] == ["/dev/ttyACM0"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://dcs.example.org/DCSWebApi/", "https://dcs.example.org/DCSWebApi"),
        ("dcs.example.org", "https://dcs.example.org"),
        ("HTTP://user:pw@Host:8080/api?x=1", "http://host:8080/api"),
        ("http://[::1]:81/", "http://[::1]:81"),
    ],
)
def test_http_urls(text: str, expected: str) -> None:
    assert normalise_http_url(text) == expected


@pytest.mark.parametrize("text", ["ftp://host", "https://", "http://host:99999"])
def test_bad_http_urls(text: str) -> None:
    with pytest.raises(ValueError, match=r"not an http|invalid port"):
        normalise_http_url(text)


@pytest.mark.parametrize(
    ("err", "key"),
    [
        (DcsAuthenticationError("no", secret="password"), "invalid_auth"),
        (DcsTimeoutError("slow", host="h", port=1), "timeout"),
        (DcsConnectionError("refused", host="h", port=1), "cannot_connect"),
        (DcsMalformedResponseError("bad", snippet="x"), "malformed_response"),
        (DcsServerError("500", status=500), "device_error"),
        (MeterLinkError("?"), "unknown_error"),
    ],
)
def test_error_translation(err: MeterLinkError, key: str) -> None:
    found, placeholders = error_translation(err)
    assert found == key
    assert placeholders["error"] == str(err)
    if key == "invalid_auth":
        assert placeholders["secret"] == "password"


def test_capture_masks_secrets_and_is_bounded() -> None:
    capture = FrameCapture.for_secrets(enabled=True, secrets=["hunter22", None, ""])
    assert capture.callback is not None
    for i in range(MAX_FRAMES + 10):
        capture.record("tx", b'{"password": "hunter22", "n": %d}' % i)
    frames = capture.as_diagnostics()["frames"]
    assert len(frames) == MAX_FRAMES
    assert all("hunter22" not in f["text"] for f in frames)
    assert all(b"hunter22".hex(" ") not in f["hex"] for f in frames)
    assert frames[-1]["text"].endswith(f'"n": {MAX_FRAMES + 9}}}')


def test_capture_off_gives_no_callback() -> None:
    assert FrameCapture.for_secrets(enabled=False, secrets=["x"]).callback is None


def test_counter_guard_counts_readings_not_updates() -> None:
    guard = CounterGuard(name="R1", confirm=3)
    guard.accept(5000.0, stamp=1)
    # the same glitchy reading seen in many updates is still one reading
    for _ in range(5):
        assert guard.accept(10.0, stamp=2) == 5000.0
    assert guard.accept(10.5, stamp=3) == 5000.0
    assert guard.accept(11.0, stamp=4) == 11.0  # the third different lower reading


def test_external_statistic_ids_are_ascii_for_every_device_type() -> None:
    from custom_components.meterlink.history import external_statistic_id  # noqa: PLC0415
    from custom_components.meterlink.systems.dlms.statistics import (  # noqa: PLC0415
        statistic_id as dlms_statistic_id,
    )

    assert external_statistic_id("dcs", "Sérveur--1", "R733") == "meterlink:dcs_s_rveur_1_r733"
    assert dlms_statistic_id("Zähler 7", "1.0.1.8.0.255") == (
        "meterlink:dlms_z_hler_7_1_0_1_8_0_255"
    )
