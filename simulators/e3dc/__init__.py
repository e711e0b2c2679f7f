"""An E3/DC home power station speaking encrypted RSCP over TCP, with fault injection."""
