"""Raw-frame capture shared by every protocol client.

A client is given an optional :data:`FrameCallback` and calls it with each frame it sends or
receives. Clients mask secrets they know of before calling it; the Home Assistant side keeps
the last frames in a ring buffer for diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

type Direction = Literal["tx", "rx"]
type FrameCallback = Callable[[Direction, bytes], None]
