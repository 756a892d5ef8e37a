"""Many viewers at once, each seeking at random: the proxy's memory growth and the slow tail of first bytes.

Every viewer seeks to a random offset and watches from there for a few seconds — reading at the media's own byte
rate, as a player with a full buffer does — then seeks again. Viewers start within a fraction of a second of each
other, so the first seeks arrive together. All contenders get the same viewers with the same offsets and watch
times in a sample. Memory is the contender's process tree (nginx: master + worker), sampled every 20 ms and
checked against ``VmHWM``, minus what it held idle just before the viewers arrived.
"""

from __future__ import annotations

import asyncio
import random

from bench.client import Probe, new_session, probe
from bench.contenders import Contender
from bench.model import ScenarioResult, percentile
from bench.plan import MiB, RunContext
from bench.procs import RssSampler, tree_rss_bytes
from bench.scenarios.common import fresh, mark_unavailable, rotated

_MAX_START_S = 0.5
_IDLE_SETTLE_S = 0.5


async def many_viewers(ctx: RunContext) -> ScenarioResult:
    plan = ctx.plan
    result = ScenarioResult(
        "concurrency",
        f"{plan.viewers} concurrent viewers, random seeks",
        f"Per sample: the contender restarted empty (and warmed); then {plan.viewers} viewers start within "
        f"{_MAX_START_S * 1000:.0f} ms, each doing {plan.viewer_seeks} seeks to random offsets and watching "
        f"{plan.viewer_watch_s[0]:g}–{plan.viewer_watch_s[1]:g} s after each (reading at the media's byte rate, "
        f"{ctx.piece.byte_rate / 1e6:.1f} MB/s). p95 over every seek's first byte; memory growth = peak RSS of the "
        "process tree − idle RSS before.",
    )
    p95 = result.measure("p95_ttfb_ms", "p95 seek → first byte", "ms")
    rss = result.measure("rss_growth_mib", "RSS growth", "MiB", baseline="nginx")
    mark_unavailable(result, ctx)
    for measure in (p95, rss):
        measure.cell("wholefile").skipped = (
            f"not run: holds the whole piece in memory per request ({plan.viewers} × "
            f"{ctx.piece.size / MiB:.0f} MiB) and pulls it per seek"
        )
    rss.cell("direct").skipped = "no process between client and origin"
    contenders = ctx.active(exclude=("wholefile",))
    for turn in range(plan.concurrency_repeats):
        seed = ctx.rng.randrange(1 << 30)
        for contender in rotated(contenders, turn):
            probes, growth = await _one_crowd(ctx, contender, seed)
            good = [p.ttfb_s * 1000 for p in probes if p.ok and p.ttfb_s is not None]
            errors = [p.error for p in probes if not p.ok]
            cell = p95.cell(contender.name)
            if errors:
                cell.errors.extend(f"{len(errors)} of {len(probes)} seeks failed: {e}" for e in errors[:3])
            if good and not errors:
                cell.samples.append(percentile(good, 0.95))
            if growth is not None:
                rss.cell(contender.name).samples.append(growth / MiB)
    return result


async def _one_crowd(ctx: RunContext, contender: Contender, seed: int) -> tuple[list[Probe], int | None]:
    plan, piece = ctx.plan, ctx.piece
    await fresh(ctx, contender)
    url = contender.url(piece.cid)
    async with new_session() as session:
        await ctx.origin.settled_bytes_sent()
        await asyncio.sleep(_IDLE_SETTLE_S)
        pids = contender.pids()
        idle = tree_rss_bytes(pids) if pids else None

        async def viewer(number: int) -> list[Probe]:
            rng = random.Random(seed * 1000 + number)
            done = []
            await asyncio.sleep(rng.uniform(0, _MAX_START_S))
            for _ in range(plan.viewer_seeks):
                watch = int(rng.uniform(*plan.viewer_watch_s) * piece.byte_rate)
                offset = rng.randrange(0, piece.size - watch)
                done.append(await probe(session, url, piece, offset, read=watch, pace=piece.byte_rate))
            return done

        with RssSampler(pids) as sampler:
            crowds = await asyncio.gather(*(viewer(n) for n in range(plan.viewers)))
    await ctx.origin.settled_bytes_sent()
    growth = sampler.peak - idle if idle is not None else None
    return [p for crowd in crowds for p in crowd], growth
