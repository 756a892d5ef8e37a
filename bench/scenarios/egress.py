"""Upstream bytes — what FilBeam bills — for a viewer who leaves early and for a typical watch session.

The origin's counters are zeroed before each sample and read once nothing flows any more (a contender may go on
fetching after its client left). "Served" counts the bytes the client actually took, so bytes a contender pushed
into socket buffers that nobody read count as waste, for every contender alike.
"""

from __future__ import annotations

import random

from bench.client import new_session, probe
from bench.model import ScenarioResult
from bench.plan import MiB, RunContext
from bench.scenarios.common import fair_turns, fresh_and_counted, mark_unavailable, rotated, spread_offsets
from proxy.cache import DEFAULT_READAHEAD
from proxy.prefetch import TAIL_BET, PrefetchConfig


async def leave_after_1mib(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "leave_after_1mib",
        "A viewer that reads 1 MiB then leaves",
        "Per sample: the contender restarted empty, origin counters zeroed; `Range: bytes=0-`, exactly 1 MiB "
        "read, connection closed; upstream bytes = origin's bytes sent once nothing flows.",
    )
    pulled = result.measure("upstream_mib", "upstream bytes pulled", "MiB")
    mark_unavailable(result, ctx)
    async with new_session() as session:
        for _, contender in fair_turns(ctx, range(ctx.plan.leave_repeats), pulled):
            await fresh_and_counted(ctx, contender)
            viewer = await probe(session, contender.url(ctx.piece.cid), ctx.piece, 0, read=MiB)
            upstream = await ctx.origin.settled_bytes_sent()
            cell = pulled.cell(contender.name)
            if viewer.ok and viewer.read == MiB:
                cell.samples.append(upstream / MiB)
            else:
                cell.errors.append(viewer.error or f"read {viewer.read} bytes")
    seconds = PrefetchConfig().readahead_seconds
    result.notes.append(
        f"PiecePlayer's read-ahead: {DEFAULT_READAHEAD / MiB:.0f} MiB until the container is parsed, then "
        f"{seconds:g} s of media ({seconds * ctx.piece.byte_rate / MiB:.1f} MiB for this piece); the 1 MiB viewer's "
        f"goal allows 1 MiB + {DEFAULT_READAHEAD / MiB:.0f} MiB."
    )
    return result


async def watch_session(ctx: RunContext) -> ScenarioResult:
    watch = ctx.plan.watch
    result = ScenarioResult(
        "watch_session",
        "A typical watch session",
        f"Per sample (same session for every contender): restart empty, zero the origin's counters; play "
        f"{watch.play // MiB} MiB from byte 0, then {watch.seeks} seeks to random offsets reading "
        f"{watch.per_seek // MiB} MiB each, then {watch.reseeks} re-seeks to earlier seek targets reading the same "
        f"{watch.per_seek // MiB} MiB again; reading paced at {watch.pace // MiB} MiB/s after each first byte. "
        "Ratio = origin bytes sent / bytes the client read.",
    )
    ratio = result.measure("upstream_per_served", "upstream bytes / bytes served", "×")
    upstream_mib = result.measure("upstream_mib", "upstream bytes pulled", "MiB")
    unserved = result.measure("unserved_percent", "fetched ahead, never served (% of bytes served)", "%")
    # the part of it the bet on a tail lost (the piece is faststart): read-ahead left behind at each seek is the rest
    lost_bet = result.measure("tail_bet_percent", "of which the lost tail bet (% of bytes served)", "%")
    mark_unavailable(result, ctx)
    skip_wholefile = ctx.wholefile_skip(1 + watch.seeks + watch.reseeks)
    for measure in (ratio, upstream_mib):
        if skip_wholefile:
            measure.cell("wholefile").skipped = skip_wholefile
    no_proxy = "no proxy: nothing is fetched ahead (bytes left in socket buffers: see the ratio)"
    for measure in (unserved, lost_bet):
        measure.cell("direct").skipped = no_proxy
        for name in ("nginx", "wholefile"):
            measure.cell(name).skipped = "keeps no count of bytes fetched ahead and never served (see the ratio)"
    contenders = ctx.active(exclude=("wholefile",) if skip_wholefile else ())
    async with new_session() as session:
        for turn in range(ctx.plan.watch_repeats):
            steps = _session_steps(ctx, random.Random(ctx.rng.randrange(1 << 30)))
            for contender in rotated(contenders, turn):
                await fresh_and_counted(ctx, contender)
                url = contender.url(ctx.piece.cid)
                served, failures = 0, []
                for offset, length in steps:
                    step = await probe(session, url, ctx.piece, offset, read=length, pace=watch.pace)
                    served += step.read
                    if not step.ok:
                        failures.append(step.error)
                upstream = await ctx.origin.settled_bytes_sent()
                if failures:
                    ratio.cell(contender.name).errors.extend(failures)
                    continue
                ratio.cell(contender.name).samples.append(upstream / served)
                upstream_mib.cell(contender.name).samples.append(upstream / MiB)
                if contender.name == "pieceplayer":
                    stats = await contender.stats(session)
                    by_reason = stats["unserved_bytes_by_reason"]
                    unserved.cell(contender.name).samples.append(100 * sum(by_reason.values()) / served)
                    lost_bet.cell(contender.name).samples.append(100 * by_reason.get(TAIL_BET, 0) / served)
    return result


def _session_steps(ctx: RunContext, rng: random.Random) -> list[tuple[int, int]]:
    watch = ctx.plan.watch
    targets = spread_offsets(ctx, watch.seeks, rng)
    targets = [min(t, ctx.piece.size - watch.per_seek) for t in targets]
    revisits = rng.sample(targets, watch.reseeks)
    return [(0, watch.play)] + [(t, watch.per_seek) for t in targets] + [(t, watch.per_seek) for t in revisits]
