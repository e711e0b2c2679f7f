"""Tests of the Modbus simulator."""
