"""MeterLink integration tests."""
