"""E3/DC home power stations over the local, encrypted RSCP protocol (TCP port 5033)."""
