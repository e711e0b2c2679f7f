"""The device types MeterLink supports; each is a package under ``systems/``.

Adding a device type: a package with its ``MeterLinkSystem``, a flow mixin added to
``MeterLinkConfigFlow``'s bases, and its strings. Nothing else changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .dcs import DCS_SYSTEM
from .dlms import DLMS_SYSTEM
from .e3dc import E3DC_SYSTEM
from .ekm import EKM_SYSTEM
from .scada import SCADA_SYSTEM

if TYPE_CHECKING:
    from .base import MeterLinkSystem

SYSTEMS: Final[dict[str, MeterLinkSystem]] = {
    system.key: system
    for system in (DCS_SYSTEM, DLMS_SYSTEM, E3DC_SYSTEM, EKM_SYSTEM, SCADA_SYSTEM)
}
