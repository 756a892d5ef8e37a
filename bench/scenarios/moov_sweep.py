"""Issue 19: an MP4 with its index at the end, opened by the real player, over a sweep of sizes — and re-opened warm.

The media scenario measures the moov-at-end open on the run's one piece (1 GiB in the full plan). A phone-sized
video is not a gigabyte, and the proxy's bet on the tail used to wait for 64 MiB, so the sweep opens the same kind
of file at 2, 20, 200 MiB and 1 GiB (the quick plan: 2 and 20 MiB). Each size is a real MP4 made by
``resources/make_demo.py --large`` and remuxed with its ``moov`` at the end (``bench.media``), cached under
``PIECEPLAYER_BENCH_CACHE`` between runs (the 1 GiB one takes minutes to make once).

Per size and turn, in rotated order: PiecePlayer's self-test with its in-process proxy, the same self-test
``--direct`` from the origin, and ``--direct`` through nginx's slice cache, each fresh. Then PiecePlayer and
nginx open the piece again with what the first open cached (warm re-open; direct has no cache),
``Plan.warm_repeats`` times each, alternated, so the two are measured in the same minutes. Each size
gets its own origin process (same settings as the run's) serving its folder. Goals: moov at the end ≤ 0.75 ×
direct at every size; warm re-open ≤ nginx's.
"""

from __future__ import annotations

import dataclasses
import random

from bench.contenders import Direct, Nginx, PiecePlayer
from bench.media import ensure_moov_at_end, ensure_piece
from bench.model import ScenarioResult
from bench.origin import Origin
from bench.plan import RunContext
from bench.scenarios.common import rotated
from bench.scenarios.frames import player_help, self_test

#: The one seek each self-test makes (a fraction of the piece's duration): the self-test needs one to pass.
_SEEK_AT = 0.3
CONTENDERS = (PiecePlayer, Direct, Nginx)
#: Every size a full plan sweeps (a goal each); a quick plan runs the first ones (``Plan.moov_sweep_mib``).
SWEEP_MIB = (2, 20, 200, 1024)


def cold_key(mib: int) -> str:
    return f"moov_end_{mib}mib_ms"


def warm_key(mib: int) -> str:
    return f"warm_{mib}mib_ms"


async def moov_sweep(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "moov_sweep",
        "Moov at the end over sizes, and warm re-open (issue 19)",
        "Per size and sample, contenders in rotated order: the player's self-test (one seek) opens an MP4 whose "
        "`moov` is after `mdat` — PiecePlayer through its own proxy, the others `--direct` from the origin or "
        "through nginx — each fresh (`ttff_ms`); then PiecePlayer and nginx open it again with what the first "
        "open cached, a few times each, alternated. Each size has its own origin process with the run's latency and "
        "bandwidth.",
    )
    sizes = ctx.plan.moov_sweep_mib
    for mib in sizes:
        result.measure(cold_key(mib), f"moov at the end, {_size(mib)}: open → first frame", "ms")
    for mib in sizes:
        result.measure(warm_key(mib), f"warm re-open, {_size(mib)} → first frame", "ms", baseline="nginx")
    for measure in result.measures.values():
        for name in ctx.contenders:
            if name not in {c.name for c in CONTENDERS}:
                measure.cell(name).skipped = "not run: the sweep compares PiecePlayer with direct and nginx"
        for name, reason in ctx.unavailable.items():
            measure.cell(name).skipped = reason
    for mib in sizes:
        result.measures[warm_key(mib)].cell("direct").skipped = "no cache: its second open is as cold as its first"
    if await player_help() is None:
        result.skip_all([c.name for c in CONTENDERS], "player --self-test not available on this branch")
        return result
    for mib in sizes:
        await _one_size(ctx, result, mib)
    return result


async def _one_size(ctx: RunContext, result: ScenarioResult, mib: int) -> None:
    piece = ensure_piece(mib)
    moov = ensure_moov_at_end(piece)
    work = ctx.work / f"moov-sweep-{mib}"
    work.mkdir(parents=True, exist_ok=True)
    origin = Origin(moov.folder, work / "origin.log")
    contenders = {}
    try:
        await origin.start()
        contenders = {cls.name: cls(work, origin.template()) for cls in CONTENDERS}
        sub = dataclasses.replace(ctx, piece=moov, moov_at_end=moov, origin=origin, contenders=contenders, work=work)
        cold, warm = result.measures[cold_key(mib)], result.measures[warm_key(mib)]
        active = [c for c in contenders.values() if c.name not in ctx.unavailable]
        for turn in range(ctx.plan.media_repeats):
            rng = random.Random(ctx.rng.randrange(1 << 30))
            seek = round(_SEEK_AT * moov.duration_s * rng.uniform(0.8, 1.2), 1)
            tag, cached = f"{turn}", []
            for contender in rotated(active, turn):
                report, error = await self_test(sub, contender, [seek], tag)
                _record(cold.cell(contender.name), report, error)
                if not error and contender.name != "direct":
                    cached.append(contender)
            for again in range(ctx.plan.warm_repeats):
                for contender in rotated(cached, turn + again):
                    report, error = await self_test(sub, contender, [seek], tag, keep=True)
                    _record(warm.cell(contender.name), report, error)
    finally:
        for contender in contenders.values():
            await contender.stop()
        await origin.stop()


def _size(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"


def _record(cell, report: dict, error: str | None) -> None:
    if error:
        cell.errors.append(error)
    else:
        cell.samples.append(float(report["ttff_ms"]))
