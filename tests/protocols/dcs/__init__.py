"""DCS protocol tests."""
