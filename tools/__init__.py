"""Development tools: drive a real Home Assistant process (demo and end-to-end tests)."""
