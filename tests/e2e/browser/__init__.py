"""Browser end-to-end tests: Home Assistant's frontend in Chromium."""
