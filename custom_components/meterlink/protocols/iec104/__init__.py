"""IEC 60870-5-104: sans-I/O APCI/ASDU codec, connection state machine, asyncio client."""
