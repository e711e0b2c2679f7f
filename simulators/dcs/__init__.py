"""Coherent Research DCS server simulator (NEW "DcsWebApi" API and OLD /api API)."""

from .model import SimMeter, SimRegister, SimVirtualMeter
from .server import DcsFaults, DcsSimulator, DcsStats

__all__ = [
    "DcsFaults",
    "DcsSimulator",
    "DcsStats",
    "SimMeter",
    "SimRegister",
    "SimVirtualMeter",
]
