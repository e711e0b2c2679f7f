"""Device templates: ready point maps (CSV files next to this module) chosen in a term's flow."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .items import ImportResult, import_point_list

if TYPE_CHECKING:
    from .const import Protocol

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceTemplate:
    """A point map for a common device."""

    key: str
    title: str
    file: str
    modbus: bool  # Modbus (any framing) or IEC 104
    default_term: int


TEMPLATES: Final = {
    t.key: t
    for t in (
        DeviceTemplate(
            key="e3dc_s10",
            title="E3/DC power station (Modbus, E3/DC mode)",
            file="e3dc_s10.csv",
            modbus=True,
            default_term=1,
        ),
        DeviceTemplate(
            key="sdm630",
            title="Three-phase energy meter (SDM630 style)",
            file="sdm630.csv",
            modbus=True,
            default_term=1,
        ),
        DeviceTemplate(
            key="sdm120",
            title="Single-phase energy meter (SDM120 style)",
            file="sdm120.csv",
            modbus=True,
            default_term=1,
        ),
        DeviceTemplate(
            key="iec104_station",
            title="IEC 104 station (measurements, breaker, set-point)",
            file="iec104_station.csv",
            modbus=False,
            default_term=1,
        ),
    )
}


def templates_for(protocol: Protocol) -> list[DeviceTemplate]:
    """Templates a channel of the protocol can use."""
    return [t for t in TEMPLATES.values() if t.modbus == protocol.is_modbus]


@cache
def _text(file: str) -> str:
    """The template file's text (package data, read once)."""
    return (TEMPLATE_DIR / file).read_text(encoding="utf-8")


def load_template(key: str, protocol: Protocol, term: int) -> ImportResult:
    """Items of a template for a term (blocking on first use: call in the executor)."""
    return import_point_list(protocol, term, _text(TEMPLATES[key].file))
