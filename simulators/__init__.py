"""Device simulators that speak the real wire protocols over real sockets."""
