"""What a session costs with a FilBeam-like CDN (fast, billed, 200-from-zero on a miss) and a Curio-like provider.

``python -m bench.upstream_mix [--size-mib 1024] [--cdn-latency-ms 50] [--provider-latency-ms 300]``

Both origins are the emulator (``proxy.emulator``), serving the same random piece; the proxy runs in this process
with a fresh cache per scenario. For each scenario the table shows the first-byte time of each player request,
bytes pulled from each upstream, and bytes served to the player. Playback is simulated at an accelerated,
steady rate (the proxy's read-ahead follows the reader, so pacing matters for what it pulls).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from proxy.emulator import Emulator, Knobs
from proxy.server import ProxyConfig, ProxyServer
from proxy.sources import Source, provider_source
from proxy.units import MiB


@dataclass
class Session:
    proxy: ProxyServer
    http: aiohttp.ClientSession
    url: str
    size: int
    first_bytes_ms: list[float] = field(default_factory=list)

    async def watch(self, start: int, length: int, rate: float) -> None:
        """Read ``length`` bytes from ``start`` like a player: an open-ended request, consumed at ``rate`` B/s."""
        t0 = time.perf_counter()
        async with self.http.get(self.url, headers={"Range": f"bytes={start}-"}) as response:
            if response.status != 206:
                raise RuntimeError(f"{response.status}: {(await response.text())[:200]}")
            first = await response.content.read(64 * 1024)
            self.first_bytes_ms.append((time.perf_counter() - t0) * 1000)
            got = len(first)
            while got < length:
                chunk = await response.content.read(min(256 * 1024, length - got))
                if not chunk:
                    break
                got += len(chunk)
                await asyncio.sleep(len(chunk) / rate)


Scenario = Callable[[Session], Awaitable[None]]
RATE = 10 * MiB  # a 8 Mbit/s video watched at 10× speed, so a "minute" takes six seconds


async def first_minute(s: Session) -> None:
    await s.watch(0, 60 * MiB, RATE)


async def seek_to_80_percent(s: Session) -> None:
    await s.watch(int(s.size * 0.8), 8 * MiB, RATE)


async def watch_back_forward(s: Session) -> None:
    await s.watch(0, 20 * MiB, RATE)
    await s.watch(5 * MiB, 10 * MiB, RATE)
    await s.watch(s.size // 2, 10 * MiB, RATE)


SCENARIOS: dict[str, Scenario] = {
    "watch the first minute": first_minute,
    "seek to 80 % at once": seek_to_80_percent,
    "watch, seek back, seek forward": watch_back_forward,
}


async def run(size_mib: int, cdn_latency: float, provider_latency: float, edge_fill: str) -> list[str]:
    folder = Path(tempfile.gettempdir()) / f"pieceplayer-bench-{size_mib}MiB"
    folder.mkdir(exist_ok=True)
    piece = folder / "random.bin"
    if not piece.exists() or piece.stat().st_size != size_mib * MiB:
        await asyncio.to_thread(_write_random, piece, size_mib)
    # no object cap: this bench is about the first miss; bench.edge_mix measures pieces above the CDN's cap
    knobs = Knobs(mode="filbeam", latency_ms=cdn_latency, edge_fill=edge_fill, bandwidth=100 * MiB, object_cap=None)
    cdn = Emulator(folder, knobs)
    provider = Emulator(folder, Knobs(mode="curio", latency_ms=provider_latency, bandwidth=50 * MiB))
    await cdn.start()
    await provider.start()
    [cid] = cdn.piece_cids()
    rows = []
    async with aiohttp.ClientSession() as http:
        for name, scenario in SCENARIOS.items():
            cdn.reset()
            provider.reset()
            with tempfile.TemporaryDirectory() as cache_dir:
                sources = [Source("FilBeam", "filbeam", cdn.base_url + "/{cid}"), provider_source(provider.base_url)]
                proxy = ProxyServer(ProxyConfig(sources, Path(cache_dir)))
                await proxy.start()
                session = Session(proxy, http, f"{proxy.base_url}/piece/{cid}", size_mib * MiB)
                await scenario(session)
                await asyncio.sleep(0.5)
                served = proxy.stats.bytes_served
                await proxy.stop()
            ttfb = ", ".join(f"{ms:.0f}" for ms in session.first_bytes_ms)
            pulled_cdn, pulled_provider = cdn.counters.bytes_sent, provider.counters.bytes_sent
            rows.append(
                f"| {name} | {ttfb} | {pulled_cdn / MiB:.1f} | {pulled_provider / MiB:.1f} "
                f"| {served / MiB:.1f} | {(pulled_cdn + pulled_provider) / max(served, 1):.2f} |"
            )
    await cdn.stop()
    await provider.stop()
    return rows


def _write_random(path: Path, size_mib: int) -> None:
    rng = random.Random(1)
    with open(path, "wb") as handle:
        for _ in range(size_mib):
            handle.write(rng.randbytes(MiB))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--cdn-latency-ms", type=float, default=50)
    parser.add_argument("--provider-latency-ms", type=float, default=300)
    parser.add_argument("--edge-fill", default="first-request", choices=["first-request", "complete", "never"])
    args = parser.parse_args()
    rows = asyncio.run(run(args.size_mib, args.cdn_latency_ms, args.provider_latency_ms, args.edge_fill))
    print(
        f"{args.size_mib} MiB piece; FilBeam-like CDN {args.cdn_latency_ms:g} ms (edge fill: {args.edge_fill}), "
        f"provider {args.provider_latency_ms:g} ms\n"
    )
    print(
        "| scenario | first byte per request (ms) | pulled from CDN (MiB) | pulled from provider (MiB) "
        "| served (MiB) | pulled / served |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
