"""What the container index says about seeking: the keyframe a seek must decode from, and how far apart they are.

A decoder can only start at a sync sample (keyframe), so a seek to a time between two keyframes decodes every frame
from the one before it up to the target before it can show anything. With a 1 s GOP that is at most 29 frames;
with ``-g 250`` it is up to 249 — the most common reason a seek whose bytes were all cached is still slow.
The keyframes come from the proxy's ``MediaIndexed`` event (time, byte offset), the frame rate from Qt.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from dataclasses import dataclass

#: Keyframes further apart than this (seconds) are worth a word to the user: streaming encoders use 2 s.
LONG_GOP_S = 2.5


@dataclass(frozen=True)
class MediaFacts:
    """What is known about the piece being played, from the proxy's index and from Qt."""

    #: (time in s, byte offset) of every sync sample, in time order.
    keyframes: tuple[tuple[float, int], ...] = ()
    duration_s: float | None = None
    byte_rate: float | None = None
    frame_rate: float | None = None

    def keyframe_before(self, time_s: float) -> tuple[float, int] | None:
        """The last keyframe at or before ``time_s`` (where the decoder starts for a seek there)."""
        if not self.keyframes:
            return None
        times = [t for t, _ in self.keyframes]
        at = bisect.bisect_right(times, time_s + 1e-6) - 1
        return self.keyframes[max(0, at)]

    def byte_at(self, time_s: float) -> int | None:
        """Roughly where the media for ``time_s`` lies in the piece: between the keyframes around it."""
        if not self.keyframes:
            return None
        times = [t for t, _ in self.keyframes]
        at = bisect.bisect_right(times, time_s + 1e-6) - 1
        t0, o0 = self.keyframes[max(0, at)]
        if at + 1 < len(self.keyframes):
            t1, o1 = self.keyframes[at + 1]
            share = (time_s - t0) / (t1 - t0) if t1 > t0 else 0.0
            return int(o0 + max(0.0, share) * (o1 - o0))
        return int(o0 + max(0.0, time_s - t0) * (self.byte_rate or 0.0))

    def frames_between(self, start_s: float, end_s: float) -> int | None:
        """Frames the decoder goes through from ``start_s`` to show ``end_s``, if the frame rate is known."""
        if not self.frame_rate:
            return None
        return max(0, round((end_s - start_s) * self.frame_rate))

    def gaps(self) -> list[float]:
        times = [t for t, _ in self.keyframes]
        return [b - a for a, b in itertools.pairwise(times) if b > a]


def gop_hint(facts: MediaFacts) -> str | None:
    """One sentence when keyframes are far apart, else None.

    "keyframes every 8.3 s: seeks between them decode up to 249 frames"
    """
    gaps = facts.gaps()
    if not gaps:
        return None
    typical, widest = statistics.median(gaps), max(gaps)
    if widest < LONG_GOP_S:
        return None
    frames = facts.frames_between(0.0, widest)
    cost = f"decode up to {frames - 1} frames" if frames else f"decode up to {widest:.1f} s of video"
    return f"keyframes every {typical:.1f} s: seeks between them {cost}"
