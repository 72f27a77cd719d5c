"""Plain shares with their standard error, and the words that show how a figure was computed."""

from __future__ import annotations

import math
from dataclasses import dataclass

from buyerjourney.analysis.model import num, pct


@dataclass(frozen=True)
class Share:
    """``part / whole`` with its binomial standard error."""

    part: float
    whole: float

    @property
    def value(self) -> float | None:
        return None if not self.whole else self.part / self.whole

    @property
    def se(self) -> float:
        p = self.value
        return 0.0 if p is None else math.sqrt(max(p * (1 - p), 0.0) / self.whole)

    def how(self, part: str = "", whole: str = "") -> str:
        """``"12 opt-ins / 400 visitors = 3.0%"``."""
        left = f"{num(self.part)} {part}".strip()
        right = f"{num(self.whole)} {whole}".strip()
        return f"{left} / {right} = {pct(self.value)}"


def div(part: float | None, whole: float | None) -> float | None:
    """``part / whole``; ``None`` when either is missing or ``whole`` is zero."""
    if part is None or whole is None or not whole:
        return None
    return part / whole


def times(a: float | None, b: float | None) -> float | None:
    """``a * b``; ``None`` when either is missing."""
    return None if a is None or b is None else a * b
