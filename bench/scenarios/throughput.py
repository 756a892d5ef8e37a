"""Sequential read of the whole piece: first through an empty cache, then again once it is cached.

curl reads into /dev/null (a C client, so the client is not what limits a fast contender on 2 cores). The cold
pass doubles as the priming read; the origin's per-connection cap bounds it for everyone. The cached passes are
compared with nginx, the production reference for serving a cache from disk, in speed and in the CPU the
serving processes spend per gigabyte (the cores a player's decoder shares with the proxy on the same machine).
"""

from __future__ import annotations

from bench.client import Download, curl_download
from bench.model import Cell, ScenarioResult
from bench.plan import RunContext
from bench.procs import serving_cpu_s
from bench.scenarios.common import fresh, mark_unavailable

MB = 1_000_000
GB = 1_000_000_000


async def sequential(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "sequential",
        "Sequential read of the whole piece",
        "Per contender: restart with an empty cache, one full GET with curl (cold pass, also primes the cache), "
        "then repeated full GETs (cached). Throughput = bytes / curl's total time; CPU per GB = the serving "
        "processes' CPU time over one cached pass (`schedstat` of every thread; not PiecePlayer's CommP hashing "
        "process) / the bytes it served.",
    )
    cold = result.measure("cold_mbps", "throughput, first (cold) read", "MB/s")
    cached = result.measure("cached_mbps", "throughput, cached", "MB/s", baseline="nginx")
    cpu = result.measure("cached_cpu_ms_per_gb", "CPU per GB served, cached", "ms", baseline="nginx")
    mark_unavailable(result, ctx)
    skip_wholefile = ctx.wholefile_skip(1)
    for contender in ctx.active():
        if contender.name == "wholefile":
            cached.cell("wholefile").skipped = cpu.cell("wholefile").skipped = "no cache: every read is the cold read"
            if skip_wholefile:
                cold.cell("wholefile").skipped = skip_wholefile
                continue
        await fresh(ctx, contender)
        url = contender.url(ctx.piece.cid)
        _record(cold.cell(contender.name), await curl_download(url, ctx.piece.size))
        if contender.name == "wholefile":
            continue
        await ctx.origin.settled_bytes_sent()
        pids = contender.pids()
        if not pids:
            cpu.cell(contender.name).skipped = "no process of its own between client and origin"
        for _ in range(ctx.plan.throughput_repeats):
            before = serving_cpu_s(pids)
            download = await curl_download(url, ctx.piece.size)
            _record(cached.cell(contender.name), download)
            if pids and download.error is None:
                cpu_s = serving_cpu_s(pids) - before
                cpu.cell(contender.name).samples.append(cpu_s * 1000.0 / (ctx.piece.size / GB))
    return result


def _record(cell: Cell, download: Download) -> None:
    if download.error is None:
        cell.samples.append(download.throughput / MB)
    else:
        cell.errors.append(download.error)
