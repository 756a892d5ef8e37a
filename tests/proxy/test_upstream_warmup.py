"""A fresh proxy opens its upstream connections before the first request (``proxy.upstream_warmup``).

Real emulator (Curio mode), real proxy; between them a plain TCP relay that counts the connections the proxy opens
and the bytes it sends, so the test sees from the outside when each connection was made and that a warm-up asks
nothing of the origin.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from proxy.emulator import Emulator
from proxy.sources import Source, template_source
from tests.conftest import eventually, piece_of, running_emulator, start_proxy


class CountingRelay:
    """Forwards TCP connections to ``target_port`` on loopback and counts them and the bytes clients send."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections = 0
        self.bytes_from_clients = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _relay(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        self.connections += 1
        origin_in, origin_out = await asyncio.open_connection("127.0.0.1", self.target_port)
        for pipe in (self._pipe(client_in, origin_out, count=True), self._pipe(origin_in, client_out, count=False)):
            task = asyncio.get_running_loop().create_task(pipe)
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, count: bool) -> None:
        try:
            while data := await reader.read(65536):
                if count:
                    self.bytes_from_clients += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


@contextlib.asynccontextmanager
async def relay_to(port: int) -> AsyncIterator[CountingRelay]:
    relay = CountingRelay(port)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


@contextlib.asynccontextmanager
async def relayed_origin(media_dir) -> AsyncIterator[tuple[Emulator, CountingRelay]]:
    """A Curio-mode emulator and a counting relay in front of it."""
    async with contextlib.AsyncExitStack() as stack:
        origin = await stack.enter_async_context(running_emulator(media_dir, mode="curio", latency_ms=0))
        relay = await stack.enter_async_context(relay_to(int(origin.base_url.rsplit(":", 1)[1])))
        yield origin, relay


async def test_the_first_request_rides_a_connection_opened_when_the_proxy_started(media_dir, tmp_path, http):
    async with relayed_origin(media_dir) as (origin, relay):
        proxy = await start_proxy(f"http://127.0.0.1:{relay.port}", tmp_path / "cache")
        try:
            await eventually(lambda: relay.connections == 2)  # the head's and a tail bet's, before any request
            assert relay.bytes_from_clients == 0  # nothing asked of the origin: no request, nothing paid
            assert origin.counters.requests == 0
            cid, data = piece_of(origin, "clip-faststart.mp4")
            async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-"}) as response:
                assert response.status == 206
                assert await response.read() == data
            assert origin.counters.requests >= 1
            assert relay.connections == 2  # every upstream request went over the connections opened at start
        finally:
            await proxy.stop()


async def test_new_sources_are_warmed_and_an_unreachable_one_is_skipped(media_dir, tmp_path, http):
    async with relayed_origin(media_dir) as (origin, relay):
        async with relay_to(1) as dead:  # a relay in front of a closed port: the upstream cannot be reached
            unreachable = template_source(f"http://127.0.0.1:{dead.port}/{{cid}}")
            await dead.stop()  # nothing listens there any more
        proxy = await start_proxy([unreachable], tmp_path / "cache")
        try:
            assert relay.connections == 0
            proxy.set_sources([unreachable, Source("relay", "template", f"http://127.0.0.1:{relay.port}/{{cid}}")])
            await eventually(lambda: relay.connections == 2)
            cid, data = piece_of(origin, "clip.webm")
            async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
                assert response.status == 200
                assert await response.read() == data  # the unreachable source failed over to the warmed one
            assert relay.connections == 2
        finally:
            await proxy.stop()


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        (["http://a.example:8080/piece/{cid}", "http://a.example:8080/other/{cid}"], ["http://a.example:8080"]),
        (["https://x.filbeam.io/{cid}", "http://b.example/{cid}"], ["https://x.filbeam.io", "http://b.example"]),
        (["https://{cid}.ipfs.example/"], []),
    ],
)
def test_origins_are_one_per_host_and_skip_a_host_made_of_the_cid(templates, expected):
    from proxy.upstream_warmup import origins

    sources = [Source(f"s{i}", "template", t) for i, t in enumerate(templates)]
    assert [str(url) for url in origins(sources)] == expected
