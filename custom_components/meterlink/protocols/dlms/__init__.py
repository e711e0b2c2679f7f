"""DLMS/COSEM protocol library: framing codecs, push decoding and an asyncio client."""
