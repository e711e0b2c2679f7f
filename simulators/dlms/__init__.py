"""DLMS/COSEM meter simulator: a polled server (wrapper/HDLC over TCP) and a push (HAN) port."""
