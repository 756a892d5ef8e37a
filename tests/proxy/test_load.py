"""Load and churn: 200 clients open, seek and hang up at random against one proxy, and nothing leaks or breaks.

Each client plays like a nervous viewer: open-ended reads it abandons after a random amount (Qt resets the
connection on every seek), closed ranges it reads to the end, whole pieces, suffixes, HEADs, with short pauses.
Every body read to its end is checked by SHA-256 against the file; nothing else may go wrong: no error status,
no body cut short, no exception in the proxy's log, no file descriptor, task or memory left behind.

Bounded: about 10 s of churn per test in a normal run. ``PIECEPLAYER_SOAK=1`` makes each test churn for 5
minutes (``PIECEPLAYER_SOAK=<seconds>`` for another length), on the same assertions.

Two processes layouts, because each measures something the other cannot: the proxy in this process (its
loggers, its asyncio tasks, its descriptors next to the clients') and the proxy as ``python -m proxy`` (its own
RSS and descriptors, not blurred by 200 clients and pytest in the same process).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from proxy import verify
from proxy.cache import WRITE_BACKLOG
from proxy.disk import BLOCK as READ_BLOCK
from proxy.emulator import load_pieces
from proxy.server import ProxyConfig, ProxyServer
from proxy.sources import template_source
from tests.conftest import MiB

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 200
CHURN_SECONDS = 10.0
SOAK = os.environ.get("PIECEPLAYER_SOAK", "")
if SOAK:
    CHURN_SECONDS = 300.0 if SOAK == "1" else float(SOAK)
#: The proxy's caps in these tests: small, so slices are evicted and refetched all the time (churn on the cache
#: too), and so a bound on RSS means something.
MEMORY_CAP = 4 * MiB
DISK_CAP = 6 * MiB
#: How far the CLI's RSS may rise above its idle start: the memory tier (which also counts the slices fetches are
#: filling), the slices waiting for the disk writer, and per open stream one disk block plus what the transport
#: buffers, then 24 MiB of interpreter and allocator slack. Measured: +61 MiB. Before readers took blocks
#: instead of whole slices it was +106 MiB, one slice per open stream (a stream whose socket is full kept the
#: slice it was sending alive after the memory tier evicted it). A leak of even 1 % of the bytes served (~4 GB in
#: 10 s) breaks it.
RSS_GROWTH_BOUND = MEMORY_CAP + WRITE_BACKLOG + CLIENTS * (READ_BLOCK + 128 * 1024) + 24 * MiB
FILES = ("clip-faststart.mp4", "clip-moov-at-end.mp4", "random-3.5MiB.bin", "random-2MiB.bin", "tiny.bin")


@dataclass
class Tally:
    requests: int = 0
    completed: int = 0
    abandoned: int = 0
    bytes_verified: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


async def viewer(
    number: int, base: str, pieces: list[tuple[str, bytes]], http: aiohttp.ClientSession, until: float, tally: Tally
) -> None:
    """One client's random walk of opens, seeks and hang-ups until ``until`` (loop time)."""
    rng = random.Random(number)
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        cid, data = rng.choice(pieces)
        size = len(data)
        start = rng.randrange(size)
        roll = rng.random()
        method, header, abandon_after = "GET", None, None
        if roll < 0.35:  # a seek: open-ended, usually abandoned at the next seek
            header = f"bytes={start}-"
            abandon_after = rng.choice([0, 1, 4096, 100_000, MiB, None])
        elif roll < 0.75:
            header = f"bytes={start}-{min(size - 1, start + rng.randrange(1, 2 * MiB))}"
        elif roll < 0.85:
            abandon_after = rng.choice([1000, MiB, None])
        elif roll < 0.92:
            header = f"bytes=-{rng.randrange(1, size + 10)}"
        else:
            method = "HEAD"
        tally.requests += 1
        try:
            await one_request(http, method, f"{base}/piece/{cid}", header, abandon_after, data, tally)
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            tally.errors.append(f"{method} {header}: {exc!r}")
        await asyncio.sleep(rng.random() * 0.05)


async def one_request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    header: str | None,
    abandon_after: int | None,
    data: bytes,
    tally: Tally,
) -> None:
    headers = {"Range": header} if header else {}
    async with asyncio.timeout(60), http.request(method, url, headers=headers) as response:
        tally.statuses[response.status] += 1
        if response.status not in (200, 206):
            tally.errors.append(f"{method} {header}: status {response.status} {await response.text()}")
            return
        length = int(response.headers["Content-Length"])
        if method == "HEAD":
            if length != len(data):
                tally.errors.append(f"HEAD: Content-Length {length}, the piece has {len(data)}")
            return
        if response.status == 206:
            first, last = (int(x) for x in response.headers["Content-Range"][6:].split("/")[0].split("-"))
        else:
            first, last = 0, len(data) - 1
        expected = data[first : last + 1]
        if abandon_after is not None and abandon_after < length:
            head = await response.content.readexactly(abandon_after) if abandon_after else b""
            if head != expected[: len(head)]:
                tally.errors.append(f"GET {header}: wrong bytes before hanging up")
            response.close()  # hang up mid-body, as a player does on a seek
            tally.abandoned += 1
            return
        digest = hashlib.sha256()
        received = 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            digest.update(chunk)
            received += len(chunk)
        if received != length or digest.digest() != hashlib.sha256(expected).digest():
            tally.errors.append(f"GET {header}: SHA-256 or length mismatch ({received} of {length} bytes)")
            return
        tally.completed += 1
        tally.bytes_verified += received


async def churn(base: str, pieces: list[tuple[str, bytes]], seconds: float) -> Tally:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as http:
        until = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(*(viewer(n, base, pieces, http, until, tally) for n in range(CLIENTS)))
    return tally


def report(name: str, tally: Tally, **figures: object) -> None:
    """Figures for the issue note (shown with ``pytest -s``)."""
    details = " ".join(f"{k}={v}" for k, v in figures.items())
    print(
        f"\n[{name}] requests={tally.requests} completed={tally.completed} abandoned={tally.abandoned} "
        f"bytes_verified={tally.bytes_verified} statuses={dict(tally.statuses)} errors={len(tally.errors)} {details}"
    )


# --- descriptors -------------------------------------------------------------------------------------------


def _tcp_table(pid: int | str) -> dict[str, tuple[int, int, str]]:
    """socket inode → (local port, remote port, state) from /proc/<pid>/net/tcp{,6}."""
    table = {}
    for name in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{name}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            table[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state)
    return table


def fd_census(pid: int | str, proxy_port: int, upstream_port: int) -> Counter:
    """Open descriptors of a process by role: proxy-side client connections, upstream pool, other."""
    table = _tcp_table(pid)
    census: Counter = Counter()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            local, remote, state = table.get(target[8:-1], (0, 0, ""))
            if state == "0A":
                census["listening"] += 1
            elif local == proxy_port or remote == proxy_port:
                census["client connections"] += 1
            elif remote == upstream_port:
                census["upstream pool"] += 1
            else:
                census["other sockets"] += 1
        else:
            census["files and pipes"] += 1
    return census


def children_of(pid: int) -> list[int]:
    """Child processes of ``pid`` (the CommP hashing worker is one; it starts when requests pause for a second,
    so the descriptor census may only begin once it is there)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return children


def assert_no_leaked_descriptors(before: Counter, after: Counter) -> None:
    assert after["client connections"] == 0, after
    assert after["upstream pool"] <= 16, after  # aiohttp's connector keeps at most limit_per_host idle connections
    assert after["files and pipes"] <= before["files and pipes"], (before, after)
    assert after["other sockets"] <= before["other sockets"], (before, after)


async def settle(condition, within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.1)


def port_of(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


# --- the tests ---------------------------------------------------------------------------------------------


async def start_emulator_process(media_dir: Path) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.emulator", "--dir", str(media_dir), "--latency-ms", "5",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    return process, (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()


def pieces_in(media_dir: Path) -> list[tuple[str, bytes]]:
    served = {p.path.name: p for p in load_pieces(media_dir).values()}
    return [(served[name].v2, served[name].path.read_bytes()) for name in FILES]


async def test_200_viewers_churning_in_process_leave_no_error_task_or_descriptor_behind(media_dir, tmp_path, caplog):
    """The emulator runs as its own process here, so every log record, task and socket in this one is ours."""
    caplog.set_level(logging.WARNING)
    pieces = pieces_in(media_dir)
    origin, origin_url = await start_emulator_process(media_dir)
    proxy = ProxyServer(
        ProxyConfig(
            [template_source(origin_url + "/{cid}")],
            tmp_path / "cache",
            cache={"memory_cap": MEMORY_CAP, "disk_cap": DISK_CAP},
        )
    )
    try:
        await proxy.start()
        warm = await churn(proxy.base_url, pieces, 1.0)
        assert not warm.errors, warm.errors[:5]
        await settle(lambda: proxy.stats.open_streams == 0)
        # the hashing process belongs to the steady state; it starts once requests pause for a second
        await settle(lambda: verify._pool is not None and bool(verify._pool._processes))
        ports = (port_of(proxy.base_url), port_of(origin_url))
        tasks_before = asyncio.all_tasks()
        fds_before = fd_census("self", *ports)

        tally = await churn(proxy.base_url, pieces, CHURN_SECONDS)

        await settle(lambda: proxy.stats.open_streams == 0)
        await settle(lambda: not (asyncio.all_tasks() - tasks_before - {asyncio.current_task()}))
        # White-box, because nothing public shows it: every reader that hung up released its cursor, so no fetch
        # is kept alive for a viewer who left (the paid egress that would leak).
        await settle(lambda: not any(p.cursors or p.fetches for p in proxy.cache._pieces.values()))
        await settle(lambda: fd_census("self", *ports)["client connections"] == 0)
        fds_after = fd_census("self", *ports)
        report("in-process", tally, fds_before=dict(fds_before), fds_after=dict(fds_after))
        assert not tally.errors, tally.errors[:10]
        assert tally.completed > CLIENTS and tally.abandoned > CLIENTS // 2
        assert_no_leaked_descriptors(fds_before, fds_after)
        problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not problems, [f"{r.name}: {r.getMessage()}" for r in problems[:5]]
        assert proxy.snapshot()["errors"] == 0
    finally:
        await proxy.stop()
        origin.send_signal(signal.SIGTERM)
        await origin.wait()


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_200_viewers_churning_against_the_cli_keep_its_memory_and_descriptors_flat(emulator, tmp_path):
    pieces = pieces_in(emulator.directory)
    emulator.knobs.update(latency_ms=5)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "--upstream", emulator.base_url + "/{cid}", "--cache-dir", str(tmp_path),
        "--memory-cache", str(MEMORY_CAP), "--cache-size", str(DISK_CAP),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    stderr_lines: list[bytes] = []

    async def drain_stderr() -> None:
        while line := await process.stderr.readline():
            stderr_lines.append(line)

    drainer = asyncio.create_task(drain_stderr())
    try:
        base = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        ports = (port_of(base), port_of(emulator.base_url))
        rss_idle = rss_of(process.pid)
        warm = await churn(base, pieces, 2.0)
        assert not warm.errors, warm.errors[:5]
        await settle(lambda: fd_census(process.pid, *ports)["client connections"] == 0)
        await settle(lambda: children_of(process.pid) != [])  # the hashing process, as in the in-process test
        fds_before = fd_census(process.pid, *ports)

        samples: list[int] = []

        async def sample() -> None:
            while True:
                samples.append(rss_of(process.pid))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        tally = await churn(base, pieces, CHURN_SECONDS)
        sampler.cancel()

        await settle(lambda: fd_census(process.pid, *ports)["client connections"] == 0)
        rss_after, fds_after = rss_of(process.pid), fd_census(process.pid, *ports)
        report(
            "cli",
            tally,
            rss_idle_mib=round(rss_idle / MiB, 1),
            rss_peak_mib=round(max(samples) / MiB, 1),
            rss_after_mib=round(rss_after / MiB, 1),
            upstream_mib=round(emulator.counters.bytes_sent / MiB, 1),
        )
        assert not tally.errors, tally.errors[:10]
        assert tally.completed > CLIENTS and tally.abandoned > CLIENTS // 2
        assert max(*samples, rss_after) - rss_idle <= RSS_GROWTH_BOUND, (rss_idle, max(samples), rss_after)
        if SOAK:  # long enough to level off: the last third may not climb above the peak of the first two
            split = len(samples) * 2 // 3
            assert max(samples[split:]) <= max(samples[:split]) + 16 * MiB, samples
        assert_no_leaked_descriptors(fds_before, fds_after)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        await drainer
    log = b"".join(stderr_lines).decode()
    assert process.returncode == 0, log[-2000:]
    assert "Traceback" not in log and " ERROR " not in log, log[-2000:]
