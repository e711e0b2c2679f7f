"""Modbus TCP / RTU-over-TCP device simulator: a pymodbus server behind a fault-injecting front."""
