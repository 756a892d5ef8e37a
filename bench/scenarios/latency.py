"""Time to first byte: a cold start, a seek to bytes nobody cached, and a seek to bytes already cached.

HTTP-level, as a player's HTTP stack sees it: ``Range: bytes=N-`` on a new connection, the clock stopped when
byte N arrives, the connection closed right after. The frame-level view of the same moments is in
:mod:`bench.scenarios.frames`.
"""

from __future__ import annotations

import asyncio

import aiohttp

from bench.client import new_session, probe
from bench.contenders import Contender
from bench.model import Measure, ScenarioResult
from bench.plan import RunContext
from bench.scenarios.common import fair_turns, fresh, mark_unavailable, record_ttfb, rotated, spread_offsets

#: Pause between probes so one probe's aftermath (a cancelled fetch, a slice being stored) does not time the next.
_BETWEEN_PROBES_S = 0.15


async def _timed(
    session: aiohttp.ClientSession, ctx: RunContext, contender: Contender, offset: int, measure: Measure
) -> None:
    """`Range: bytes=N-` at ``offset`` on a new connection, its time to byte N a sample of ``measure`` (or its
    error), then the pause before the next probe."""
    outcome = await probe(session, contender.url(ctx.piece.cid), ctx.piece, offset)
    record_ttfb(measure.cell(contender.name), outcome)
    await asyncio.sleep(_BETWEEN_PROBES_S)


async def cold_start(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "cold_start",
        "Cold start of the piece",
        "Each sample: the contender restarted with an empty cache and warmed on another piece, then "
        "`Range: bytes=0-` on a new connection; time until byte 0 arrives. The second measure skips the warm-up: "
        "the very first request of a just-started process (nginx, our proxy) — for information.",
    )
    ttfb = result.measure("ttfb_ms", "time to first byte", "ms")
    first_ever = result.measure("first_request_ms", "time to first byte, process just started", "ms")
    mark_unavailable(result, ctx)
    first_ever.cell("wholefile").skipped = "keeps no state: its first request is like any other (row above)"
    async with new_session() as session:
        for _, contender in fair_turns(ctx, range(ctx.plan.cold_repeats), ttfb):
            if contender.name != "wholefile":
                await contender.restart()
                await _timed(session, ctx, contender, 0, first_ever)
            await fresh(ctx, contender)
            await _timed(session, ctx, contender, 0, ttfb)
    return result


async def seek_uncached(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "seek_uncached",
        "Seek, slice not cached",
        "Contenders restarted once with empty caches; then, per sample, `Range: bytes=N-` at a random offset N "
        "inside a stretch of the piece no earlier probe touched (never slice-aligned); time until byte N arrives.",
    )
    ttfb = result.measure("ttfb_ms", "seek → first byte", "ms")
    mark_unavailable(result, ctx)
    for contender in ctx.active():
        await fresh(ctx, contender)
    offsets = spread_offsets(ctx, ctx.plan.seek_probes, ctx.rng)
    async with new_session() as session:
        for offset, contender in fair_turns(ctx, offsets, ttfb):
            await _timed(session, ctx, contender, offset, ttfb)
    return result


async def seek_cached(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "seek_cached",
        "Seek, slice cached",
        "Per sample: the aligned 1 MiB slice around a random offset N is read once in full (`bytes=S-E`, so "
        "every cache stores it), the origin is left to settle, then `Range: bytes=N-` is timed to byte N. "
        "For direct the first read changes nothing: it is the origin's seek time again.",
    )
    ttfb = result.measure("ttfb_ms", "seek → first byte", "ms")
    mark_unavailable(result, ctx)
    contenders = ctx.active(exclude=("wholefile",))
    ttfb.cell("wholefile").skipped = ttfb.cell("wholefile").skipped or "no cache: the same as the uncached seek"
    for contender in contenders:
        await fresh(ctx, contender)
    slice_size = 1 << 20
    offsets = spread_offsets(ctx, ctx.plan.seek_probes, ctx.rng)
    async with new_session() as session:
        for turn, offset in enumerate(offsets):
            start = offset - offset % slice_size
            end = min(start + slice_size, ctx.piece.size) - 1
            for contender in rotated(contenders, turn):
                url = contender.url(ctx.piece.cid)
                primed = await probe(session, url, ctx.piece, start, end=end, read=end - start + 1)
                await ctx.origin.settled_bytes_sent()
                if not primed.ok:
                    ttfb.cell(contender.name).errors.append(f"priming read failed: {primed.error}")
                    continue
                await _timed(session, ctx, contender, offset, ttfb)
    return result
