"""Tests of the EKM Omnimeter protocol library."""
