"""The emulated upstream every contender reads from: one ``proxy.emulator`` process for the whole run.

Settings (documented in BENCHMARKS.md): 50 ms to first byte, 100 MB/s per connection — a CDN edge on a gigabit
line. A high cap is the harder test for a proxy: it must keep up with the origin, and its own overhead is a larger
share of every figure. The main table uses ``curio`` mode (true ranges from the first request); the FilBeam
scenario switches to ``filbeam`` mode, where the first request for a piece is a 200 with the whole piece.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp

from bench.procs import ChildProcess, python_module

LATENCY_MS = 50
BANDWIDTH = 100_000_000  # bytes/s per connection
_SETTLE_POLL_S = 0.05
_STILL_POLLS = 6
_SETTLE_LIMIT_S = 120.0
_STILL_POLLS_IN_FLIGHT = 10
#: More than this between two polls (50 ms) means bytes are flowing: 1.3 MB/s, far below any transfer here.
_FLOWING_BYTES = 64 * 1024
_BYTES_ACKED = re.compile(r"bytes_acked:(\d+)")


class Origin:
    def __init__(self, folder: Path, log_path: Path) -> None:
        self.folder = folder
        self.log_path = log_path
        self.process: ChildProcess | None = None
        self.base = ""
        self._session: aiohttp.ClientSession | None = None

    async def start(self, port: int = 0) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self.process = ChildProcess(
            "emulator",
            python_module(
                "proxy.emulator", "--dir", str(self.folder), "--mode", "curio", "--port", str(port),
                "--latency-ms", str(LATENCY_MS), "--bandwidth", str(BANDWIDTH),
            ),
            self.log_path,
        )  # fmt: skip
        self.base = await self.process.start()
        return self.base

    async def revive(self) -> str | None:
        """If the origin has died, say how and start it again on the same port (the contenders' upstream)."""
        assert self.process is not None
        await asyncio.sleep(0)
        code = self.process.exit_code
        if code is None:
            return None
        await self.process.stop()
        await self.start(int(self.base.rsplit(":", 1)[1]))
        return f"the origin exited with status {code} during this scenario (restarted on the same port)"

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self.process is not None:
            await self.process.stop()

    def template(self) -> str:
        """The storage-provider style URL template contenders are pointed at."""
        return self.base + "/piece/{cid}"

    async def _socket_bytes(self) -> int:
        """Sum of ``bytes_acked`` over the TCP connections the origin serves (``ss``; 0 if ss is missing).

        Our own polling of the stats moves it by a few hundred bytes per poll; a transfer moves it by megabytes.
        """
        port = self.base.rsplit(":", 1)[1]
        try:
            process = await asyncio.create_subprocess_exec(
                "ss", "-tinH", "state", "established", f"( sport = :{port} )",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        except OSError:
            return 0
        out, _ = await process.communicate()
        return sum(int(n) for n in _BYTES_ACKED.findall(out.decode()))

    async def set_knobs(self, **knobs: object) -> None:
        assert self._session is not None
        async with self._session.post(f"{self.base}/_emulator/knobs", json=knobs) as response:
            response.raise_for_status()

    async def reset(self) -> None:
        """Zero the counters and empty the emulated CDN edge (FilBeam mode: the next request is a miss)."""
        assert self._session is not None
        async with self._session.post(f"{self.base}/_emulator/reset") as response:
            response.raise_for_status()

    async def counters(self) -> dict:
        assert self._session is not None
        async with self._session.get(f"{self.base}/_emulator/stats") as response:
            return (await response.json())["counters"]

    async def settled_bytes_sent(self) -> int:
        """Body bytes sent once nothing flows: no response in flight and the counters still for a moment.

        A contender may go on fetching after its client left (finishing a slice, cancelling a read-ahead, or
        reading a whole 200 on), and the emulator adds a response's bytes to its counters when that response
        ends. A response is in flight while ``requests`` (counted on arrival) exceeds the sum of ``by_status``
        (counted when it ends) — except that a request whose client leaves before the headers go out is never
        given a status (reported), so a longer stillness also counts as settled, where stillness includes the
        origin's TCP connections: a long transfer moves their ``bytes_acked`` while the counters wait.
        """
        deadline = time.monotonic() + _SETTLE_LIMIT_S
        last, still, acked = None, 0, None
        while time.monotonic() < deadline:
            await asyncio.sleep(_SETTLE_POLL_S)
            counters = await self.counters()
            in_flight = counters["requests"] - sum(counters["by_status"].values())
            now = (counters["bytes_sent"], counters["requests"], in_flight)
            acked_now = await self._socket_bytes()
            flowing = acked is not None and abs(acked_now - acked) > _FLOWING_BYTES
            acked = acked_now
            still = still + 1 if now == last and not flowing else 0
            last = now
            if (in_flight == 0 and still >= _STILL_POLLS) or still >= _STILL_POLLS_IN_FLIGHT:
                break
        return last[0] if last else 0
