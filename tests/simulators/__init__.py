"""Tests of the device simulators."""
