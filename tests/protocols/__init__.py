"""Protocol library tests."""
