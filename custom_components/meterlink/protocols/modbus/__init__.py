"""Modbus TCP / RTU-over-TCP / RTU serial: point model, register codec, read planner, client."""
