"""Tests of the Coherent Research DCS simulator."""
