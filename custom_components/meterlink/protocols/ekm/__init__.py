"""EKM Omnimeter v3/v4 RS-485 protocol: sans-I/O codec, models, errors and an asyncio bus owner."""
