"""Tests of the DLMS/COSEM simulator."""
