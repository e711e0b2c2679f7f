"""Per-device raw-frame capture for diagnostics (switched on in a device's options).

Protocol clients call :meth:`FrameCapture.record` with each frame they send or receive; the
last frames are kept in a ring buffer and shown in hex in the diagnostics download. Secrets
the entry knows of are masked again here, whatever a client already masked.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .protocols.capture import Direction, FrameCallback

MAX_FRAMES: Final = 50
MAX_FRAME_BYTES: Final = 2048
MASK: Final = b"***"


@dataclass(kw_only=True)
class FrameCapture:
    """A ring buffer of the last frames, secrets masked."""

    enabled: bool = False
    secrets: tuple[bytes, ...] = ()
    frames: deque[tuple[datetime, Direction, bytes]] = field(
        default_factory=lambda: deque(maxlen=MAX_FRAMES)
    )

    @classmethod
    def for_secrets(cls, *, enabled: bool, secrets: Iterable[str | None]) -> FrameCapture:
        """Build a capture that masks each non-empty secret."""
        return cls(
            enabled=enabled,
            secrets=tuple(s.encode() for s in secrets if s and len(s) >= 3),  # noqa: PLR2004
        )

    @property
    def callback(self) -> FrameCallback | None:
        """Return the callback to hand to a protocol client, or None when switched off."""
        return self.record if self.enabled else None

    def record(self, direction: Direction, data: bytes) -> None:
        """Keep one frame (truncated to MAX_FRAME_BYTES), secrets masked."""
        # mask before cutting: a secret across the cut must not leave its first bytes behind
        data = data[: MAX_FRAME_BYTES + max((len(s) for s in self.secrets), default=0)]
        for secret in self.secrets:
            data = data.replace(secret, MASK)
        data = data[:MAX_FRAME_BYTES]
        self.frames.append((datetime.now(UTC), direction, data))

    def as_diagnostics(self) -> dict[str, Any]:
        """Return the frames for the diagnostics download."""
        return {
            "enabled": self.enabled,
            "frames": [
                {
                    "time": when.isoformat(),
                    "direction": direction,
                    "hex": data.hex(" "),
                    "text": data.decode("utf-8", "replace"),
                }
                for when, direction, data in self.frames
            ],
        }
