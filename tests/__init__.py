"""MeterLink tests."""
