"""Per-manufacturer connection defaults (vendor profiles) with the generic profile as fallback."""

from __future__ import annotations

from dataclasses import dataclass

from .client import DlmsAuthentication, DlmsTransport
from .wrapper import WRAPPER_DEFAULT_PORT


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsVendorProfile:
    """Defaults a person can start from; every field stays editable in the UI."""

    key: str
    name: str
    transport: DlmsTransport = DlmsTransport.WRAPPER
    port: int = WRAPPER_DEFAULT_PORT
    client_address: int = 16
    server_logical: int = 1
    server_physical: int | None = None
    authentication: DlmsAuthentication = DlmsAuthentication.NONE
    invocation_counter_obis: str = "0.0.43.1.0.255"
    max_list_items: int = 10
    load_profile_obis: str = "1.0.99.1.0.255"
    verified: bool = False  # True only where checked against the manufacturer's documentation


# Green Book 4.7.3 client SAPs: 16 = public client (no security), 1 = management client.
# Hexing/Hexcell values come from the seed service (TCP 4059, server 1, client 16, auth
# None/Low/High); their management (1, LLS) and HLS client (17 or 48) addresses are common in
# the field but NOT verified against Hexing documentation.
VENDOR_PROFILES: dict[str, DlmsVendorProfile] = {
    "generic": DlmsVendorProfile(
        key="generic", name="Generic DLMS/COSEM (public client)", verified=True
    ),
    "generic_management_lls": DlmsVendorProfile(
        key="generic_management_lls",
        name="Generic DLMS/COSEM (management client, password)",
        client_address=1,
        authentication=DlmsAuthentication.LOW,
        verified=True,
    ),
    "hexing": DlmsVendorProfile(
        key="hexing", name="Hexing (public client, as in the seed service)", verified=False
    ),
    "hexing_lls": DlmsVendorProfile(
        key="hexing_lls",
        name="Hexing (management client, password)",
        client_address=1,
        authentication=DlmsAuthentication.LOW,
    ),
    "hexcell": DlmsVendorProfile(
        key="hexcell", name="Hexcell (public client, as in the seed service)"
    ),
    "hexcell_hls": DlmsVendorProfile(
        key="hexcell_hls",
        name="Hexcell (HLS-GMAC client)",
        client_address=17,
        authentication=DlmsAuthentication.HIGH_GMAC,
    ),
}


def vendor_profile(key: str | None) -> DlmsVendorProfile:
    """Return the profile for ``key``, falling back to the generic profile."""
    if key is None:
        return VENDOR_PROFILES["generic"]
    return VENDOR_PROFILES.get(key, VENDOR_PROFILES["generic"])
