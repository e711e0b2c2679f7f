"""Tests of the E3/DC RSCP protocol library."""
