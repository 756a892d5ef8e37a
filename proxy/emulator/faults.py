"""Faults and throttling: the emulator's dice for error answers, its bandwidth caps and its dropped connections.

A proxy must survive an upstream that is slow, fails now and then, or hangs up midway; these are the small
rules that make the emulated one do so on purpose, reproducibly when ``Knobs.seed`` is set.
"""

from __future__ import annotations

import asyncio
import random
import time

from proxy.emulator.knobs import Knobs
from proxy.http_library import web


class TokenBucket:
    """Paces writes to ``rate`` bytes/s (burst of 1/20 s), shared by whoever holds it."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._allowance = 0.0
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        async with self._lock:
            now = time.monotonic()
            self._allowance = min(self.rate / 20, self._allowance + (now - self._last) * self.rate)
            self._last = now
            self._allowance -= n
            if self._allowance < 0:
                await asyncio.sleep(-self._allowance / self.rate)


def roll_fault(rng: random.Random, knobs: Knobs) -> str | None:
    """One throw of the dice per request: ``"not_found"``, ``"quota"``, ``"error"`` or None (answer normally)."""
    roll = rng.random()
    rates = (("not_found", knobs.not_found_rate), ("quota", knobs.quota_rate), ("error", knobs.error_rate))
    for name, rate in rates:
        if roll < rate:
            return name
        roll -= rate
    return None


def body_budget(parts: list[tuple[int, int]], knobs: Knobs) -> int | None:
    """How many body bytes to send before dropping the connection (None: all of them)."""
    total = sum(length for _, length in parts)
    budget = knobs.drop_after
    if knobs.short_body:
        budget = total // 2 if budget is None else min(budget, total // 2)
    return budget


def drop_connection(request: web.Request) -> None:
    """Hang up mid-answer, as a broken upstream does."""
    if request.transport is not None:
        request.transport.close()
