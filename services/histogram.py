"""The live page's histogram: a credential's 2xx/4xx/5xx counts over time, read from the rollups (R11).

Per minute for the last hour, per hour for the last day, per four hours for the last week. Each window
ends with the bucket that holds now, so the newest requests always show; its totals are the sums of
its bars, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services import rollups

# window -> (label, rollup span in minutes, bar length in minutes, bars)
WINDOWS = {
    "hour": ("Last hour", rollups.MINUTE, 1, 60),
    "day": ("Last day", rollups.HOUR, 60, 24),
    "week": ("Last week", rollups.HOUR, 240, 42),
}
CLASSES = ("2xx", "4xx", "5xx")
# The SVG's own units: each bar a slot this wide, the tallest this high.
SLOT, HEIGHT = 10, 100


@dataclass(frozen=True)
class Bar:
    """One bucket: when it starts and ends, its counts, and its stacked rectangles as (class, y, height)."""

    start: datetime
    end: datetime
    counts: dict[str, int]
    rects: tuple[tuple[str, float, float], ...]
    x: float

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Series:
    """A window's bars, their totals by class, and the SVG's width."""

    window: str
    bars: list[Bar]
    totals: dict[str, int]
    width: int
    bar_minutes: int


def series(credential_id: int, window: str, now: datetime) -> Series:
    """Return the credential's bars for `window` ("hour", "day" or "week"), ending with the bucket holding `now`."""
    _label, span, minutes, count = WINDOWS[window]
    if span == rollups.MINUTE:
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    else:
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    length = timedelta(minutes=minutes)
    start = end - length * count
    sums = [dict.fromkeys(CLASSES, 0) for _ in range(count)]
    for at, counts in rollups.buckets(credential_id, span, start).items():
        index = int((at - start) / length)
        if 0 <= index < count:
            for key in CLASSES:
                sums[index][key] += counts[key]
    top = max([sum(s.values()) for s in sums] + [1])
    bars = []
    for i, counts in enumerate(sums):
        y, rects = float(HEIGHT), []
        for key in CLASSES:  # 2xx at the bottom, 5xx on top
            if counts[key]:
                height = round(counts[key] / top * HEIGHT, 2)
                y = round(y - height, 2)
                rects.append((key, y, height))
        bars.append(Bar(start + length * i, start + length * (i + 1), counts, tuple(rects), i * SLOT + 1))
    totals = {key: sum(s[key] for s in sums) for key in CLASSES}
    return Series(window, bars, totals, count * SLOT, minutes)
