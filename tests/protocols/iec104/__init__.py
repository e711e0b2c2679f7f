"""Tests of the IEC 60870-5-104 codec, state machine and client."""
