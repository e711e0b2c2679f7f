"""Fuzz harness runs and regression tests for the crashes they found."""
