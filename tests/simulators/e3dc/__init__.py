"""Tests of the E3/DC RSCP simulator, including pye3dc running against it."""
