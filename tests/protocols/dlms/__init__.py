"""Tests of the DLMS/COSEM protocol library."""
