"""FilBeam's cache miss: the origin answers the first request for a piece with a 200 and the whole piece.

The main table runs the origin in ``curio`` mode (true ranges) so every contender is measured on equal terms;
this scenario switches it to ``filbeam`` mode and empties its emulated CDN edge before every sample, so each
sample is the first request FilBeam has seen for the piece. Two cases: a start at byte 0, and a first request
that is a seek into the middle of the piece (40 %), where every byte before the target must stream past.
"""

from __future__ import annotations

from bench.client import new_session, probe
from bench.model import ScenarioResult
from bench.plan import MiB, RunContext
from bench.scenarios.common import fair_turns, fresh_and_counted, mark_unavailable, record_ttfb

SEEK_FRACTION = 0.4


async def filbeam_cold(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "filbeam",
        "FilBeam mode: first request for a piece (CDN miss)",
        "Origin in `filbeam` mode, its edge emptied before each sample, the contender restarted empty. "
        f"Start: `bytes=0-`; seek: `bytes=N-` with N at {SEEK_FRACTION:.0%} of the piece, timed to byte N "
        "(a 200 is read through to byte N, as FFmpeg would). Upstream bytes counted after the client left.",
    )
    start = result.measure("start_ttfb_ms", "first request at byte 0 → first byte", "ms")
    seek = result.measure("seek_ttfb_ms", "first request at 40 % → byte N", "ms")
    pulled = result.measure("seek_upstream_mib", "upstream bytes for that seek", "MiB")
    mark_unavailable(result, ctx)
    offset = int(ctx.piece.size * SEEK_FRACTION)
    await ctx.origin.set_knobs(mode="filbeam")
    try:
        async with new_session() as session:
            turns = fair_turns(ctx, range(ctx.plan.filbeam_repeats), start, seek, pulled, whole_downloads=2)
            for _, contender in turns:
                for measure, at in ((start, 0), (seek, offset)):
                    await fresh_and_counted(ctx, contender)
                    outcome = await probe(session, contender.url(ctx.piece.cid), ctx.piece, at)
                    record_ttfb(measure.cell(contender.name), outcome)
                    upstream = await ctx.origin.settled_bytes_sent()
                    if at and outcome.ok:
                        pulled.cell(contender.name).samples.append(upstream / MiB)
    finally:
        await ctx.origin.set_knobs(mode="curio")
        await ctx.origin.reset()
    return result
