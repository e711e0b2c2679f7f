"""Tests of MeterLink's protocol libraries."""
