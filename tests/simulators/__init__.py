"""Tests of MeterLink's device simulators."""
