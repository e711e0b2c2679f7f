"""Tests of the EKM Omnimeter bus simulator."""
