"""End-to-end tests: a real Home Assistant process with MeterLink from this checkout."""
