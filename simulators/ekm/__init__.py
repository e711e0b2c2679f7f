"""Simulated EKM Omnimeter v3/v4 RS-485 bus, reachable over a pseudo-terminal and TCP."""
