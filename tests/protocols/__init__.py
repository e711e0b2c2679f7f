"""Tests of the protocol library."""
