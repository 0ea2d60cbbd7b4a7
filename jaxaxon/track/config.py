"""Settings of the baseline bouton tracker."""

from __future__ import annotations

import dataclasses
import math

__all__ = ["TrackerConfig"]


@dataclasses.dataclass(frozen=True)
class TrackerConfig:
    """Settings of the baseline tracker (pixels of the input frames).

    Attributes:
      gate: largest distance between a track's last position and a detection it is linked
        to (after registration), and between matched predicted and true points in the scores.
      max_gap: frames a track may go undetected and still be continued.
      max_rotation_deg: largest rotation between frames searched by the registration.
      threshold: bouton-map threshold of the detections.
    """

    gate: float = 4.0
    max_gap: int = 2
    max_rotation_deg: float = 5.0
    threshold: float = 0.5

    def __post_init__(self) -> None:
        for name in ("gate", "max_rotation_deg"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
        if not (isinstance(self.max_gap, int) and 0 <= self.max_gap <= 1000):
            raise ValueError(f"max_gap: expected a whole number in 0..1000, got {self.max_gap!r}")
        if not (isinstance(self.threshold, (int, float)) and 0 < self.threshold < 1):
            raise ValueError(f"threshold: expected a number in (0, 1), got {self.threshold!r}")
