"""MeterLink's embedded protocol library.

Nothing below this package imports ``homeassistant``: each ``<system>/`` holds a sans-I/O codec
(bytes in, typed values out) and a small asyncio client that owns the transport.
"""
