"""FilBeam as it really is (issue 17): what a viewing session costs and how fast it seeks, per upstream setup.

``python -m bench.edge_mix [--markdown BENCHMARKS.md] [--only name,…]``

Setups (``shared/research/filbeam.md`` §8, modelled by ``proxy.emulator.filbeam``): two providers behind the CDN
picked at random (a miss per provider), a 1 GiB piece above the CDN's 512 MB object cap (a miss on every
request), fills cancelled by a client that leaves, a FilBeam-only configuration with a slow edge, and FilBeam
only above the cap (the setup that looped before). The session is a player's: open at byte 0 and watch, then
three seeks (forward to 40 %, 80 %, back to 10 %), each a new open-ended request read for a few MiB at a steady
rate. For each setup: first byte of the open, time to first byte of each seek, bytes paid to the CDN (miss and
hit, from the proxy's own bill) and to the provider, bytes served, bytes fetched twice, and dollars at FilBeam's
published prices. The proxy runs in this process with a fresh cache per setup; both origins are the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.upstream_mix import Session, _write_random
from proxy.emulator import Emulator, Knobs
from proxy.server import ProxyConfig, ProxyServer
from proxy.sources import Source, provider_source
from proxy.units import MiB

#: Playback rate of the simulated viewer (an 8 Mbit/s video at 10× speed: a "minute" takes six seconds).
RATE = 10 * MiB
WATCH_AT_OPEN = 16 * MiB
WATCH_AFTER_SEEK = 4 * MiB
SEEKS = (0.4, 0.8, 0.1)
BEGIN, END = "<!-- edge-mix:begin -->", "<!-- edge-mix:end -->"


@dataclass(frozen=True)
class Setup:
    name: str
    size_mib: int
    cdn: dict = field(default_factory=dict)
    provider: bool = True


SETUPS = (
    Setup("two providers behind the CDN, random picks; + a provider", 256, {"providers": 2, "seed": 3}),
    Setup("1 GiB piece above the 512 MB cap; + a provider", 1024),
    Setup("fills cancelled on disconnect; + a provider", 256, {"fill_cancelled_on_disconnect": True}),
    Setup("FilBeam only, slow edge (5 MB/s, 150 ms)", 256, {"bandwidth": 5_000_000, "latency_ms": 150}, False),
    Setup("FilBeam only, 1 GiB above the cap", 1024, {}, False),
)


@dataclass
class Outcome:
    open_ms: float = 0.0
    seeks_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def session(proxy: ProxyServer, http: aiohttp.ClientSession, url: str, size: int) -> Outcome:
    viewer = Session(proxy, http, url, size)
    outcome = Outcome()
    try:
        await viewer.watch(0, WATCH_AT_OPEN, RATE)
        for fraction in SEEKS:
            await viewer.watch(int(size * fraction), WATCH_AFTER_SEEK, RATE)
    except (RuntimeError, aiohttp.ClientError, TimeoutError) as exc:
        outcome.errors.append(str(exc))
    outcome.open_ms, *outcome.seeks_ms = viewer.first_bytes_ms or [0.0]
    return outcome


async def run_setup(setup: Setup, http: aiohttp.ClientSession) -> str:
    folder = Path(tempfile.gettempdir()) / f"pieceplayer-bench-{setup.size_mib}MiB"
    folder.mkdir(exist_ok=True)
    piece = folder / "random.bin"
    if not piece.exists() or piece.stat().st_size != setup.size_mib * MiB:
        await asyncio.to_thread(_write_random, piece, setup.size_mib)
    cdn_knobs = {"mode": "filbeam", "latency_ms": 50, "bandwidth": 50_000_000, **setup.cdn}
    cdn = Emulator(folder, Knobs(**cdn_knobs))
    provider = Emulator(folder, Knobs(mode="curio", latency_ms=300, bandwidth=20_000_000))
    await cdn.start()
    await provider.start()
    [cid] = cdn.piece_cids()
    sources = [Source("FilBeam", "filbeam", cdn.base_url + "/{cid}")]
    if setup.provider:
        sources.append(provider_source(provider.base_url))
    try:
        with tempfile.TemporaryDirectory() as cache_dir:
            proxy = ProxyServer(ProxyConfig(sources, Path(cache_dir)))
            await proxy.start()
            try:
                async with asyncio.timeout(300):
                    outcome = await session(proxy, http, f"{proxy.base_url}/piece/{cid}", setup.size_mib * MiB)
                await asyncio.sleep(6)  # whole streams linger 5 s after the last viewer, then close
                stats = proxy.snapshot()
            finally:
                await proxy.stop()
    finally:
        await cdn.stop()
        await provider.stop()
    return row(setup, outcome, stats, cdn, provider)


def row(setup: Setup, outcome: Outcome, stats: dict, cdn: Emulator, provider: Emulator) -> str:
    rows = [r for piece in stats["egress_by_piece"].values() for r in piece["sources"].values()]
    cdn_rows = [r for r in rows if r["kind"] == "filbeam"]
    miss = sum(r["cdn_miss_bytes"] for r in cdn_rows)
    hit = sum(r["cdn_hit_bytes"] for r in cdn_rows)
    seeks = ", ".join(f"{ms:.0f}" for ms in outcome.seeks_ms) + (f" ✗ {outcome.errors[0]}" if outcome.errors else "")
    served = stats["bytes_served"]
    return (
        f"| {setup.name} | {outcome.open_ms:.0f} | {seeks} | {miss / MiB:.1f} / {hit / MiB:.1f} "
        f"| {cdn.counters.requests} | {provider.counters.bytes_sent / MiB:.1f} | {served / MiB:.1f} "
        f"| {cdn.counters.bytes_sent / max(served, 1):.2f} | {stats['bytes_fetched_twice'] / MiB:.1f} "
        f"| {stats['egress_usd'] * 1e6:.0f} |"
    )


HEADER = (
    "| setup | open: first byte (ms) | seeks 40 %, 80 %, 10 %: first byte (ms) | CDN paid, miss / hit (MiB) "
    "| CDN requests | provider (MiB) | served (MiB) | CDN sent / served | fetched twice (MiB) | µ$ |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


async def run(only: set[str]) -> list[str]:
    async with aiohttp.ClientSession() as http:
        return [await run_setup(s, http) for s in SETUPS if not only or any(o in s.name for o in only)]


def write_markdown(table: str, path: Path) -> None:
    block = f"{BEGIN}\n{table}\n{END}"
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        path.write_text(head + block + rest.split(END, 1)[1])
    else:
        path.write_text(text.rstrip() + "\n\n" + block + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", type=Path, help="replace the edge-mix table in this file (BENCHMARKS.md)")
    parser.add_argument("--only", default="", help="comma-separated words of setup names to run")
    args = parser.parse_args()
    rows = asyncio.run(run({w for w in args.only.split(",") if w}))
    table = HEADER + "\n" + "\n".join(rows)
    print(table)
    if args.markdown is not None:
        write_markdown(table, args.markdown)


if __name__ == "__main__":
    main()
