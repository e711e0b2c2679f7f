"""Every secret the test suite and the e2e suites hand to MeterLink or a simulator.

``tests/secrets_guard.py`` greps everything the suite produced (log records at DEBUG level,
captured stdout/stderr, failure reports, the e2e Home Assistant logs) for each of these and
fails the session when one shows up. Keep values distinctive: a short common string would
match unrelated output. Deliberately left out:

- EKM ``"00000000"``: the meters' public factory default, and a common run of digits;
- ``"12345678"`` (an EKM codec sample and a wrong EKM password): an E3/DC serial spells it;
- wrong passwords the tests type on purpose (``"wrong"``, ``"changed"``, ``"a"``/``"b"``): too
  short or too common to grep for, and never accepted by a simulator.

DCS session cookies are random per login; the guard records each one the DCS simulator hands
out and greps for those too.
"""

from __future__ import annotations

from typing import Final

SECRETS: Final[dict[str, str]] = {
    # DCS (tests/components/meterlink/conftest.py, tests/simulators/dcs, e2e)
    "dcs password (simulator default)": "demo-password",
    "dcs password (e2e)": "e2e-secret",
    "dcs password (browser e2e)": "e2e-dcs-secret",
    # E3/DC (e3dc_helpers.py, tests/protocols/e3dc, tests/simulators/e3dc, browser e2e)
    "e3dc portal password": "portal-password",
    "e3dc rscp key": "simulator-key",
    "e3dc rscp key (cli)": "cli-key",
    "e3dc rscp key (rscp lib)": "rscp-lib-key",
    "e3dc portal password (rscp lib)": "lib-password",
    "e3dc rscp key (pye3dc)": "pye3dc-key",
    "e3dc portal password (pye3dc)": "secret-portal-password",
    "e3dc installer password": "installer-pw",
    "e3dc rscp key (browser e2e)": "e2e-rscp-key",
    "e3dc portal password 1 (browser e2e)": "e2e-portal-1",
    "e3dc portal password 2 (browser e2e)": "e2e-portal-2",
    # Home Assistant owner of the e2e suites
    "hass owner password (e2e)": "e2e-password-1",
    # EKM meter passwords (other than the public default)
    "ekm password": "24681357",
    "ekm password (changed)": "11112222",
    # DLMS (dlms_helpers.py, tests/protocols/dlms, tests/simulators/dlms)
    "dlms lls password": "lls-9f4e2b71",
    "dlms block cipher key": "000102030405060708090a0b0c0d0e0f",
    "dlms authentication key": "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
}
