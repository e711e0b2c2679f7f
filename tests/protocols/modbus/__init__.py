"""Tests of the Modbus point model, codec, planner, point lists and client."""
