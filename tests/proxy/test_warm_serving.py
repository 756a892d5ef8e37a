"""A piece already on disk, served again: its slice files go to the socket by ``sendfile`` (``Exchange._send_file``)
whenever the socket has room, and block by block through the transport when it is full. These tests hold that
path to what a player relies on — every byte in order for fast and slow readers, multipart answers, and readers
that vanish mid-file leaving nothing open behind — over real sockets, against a second proxy started on the cache
a first one left."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from pathlib import Path

import pytest

from proxy.server import ProxyServer
from tests.conftest import MiB, eventually, reopen_from_cache


def _open_files_under(folder: Path) -> list[str]:
    """What this process holds open inside ``folder`` (the proxy runs in the test's process)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        if target.startswith(str(folder)):
            held.append(target)
    return held


async def _raw_get(
    proxy: ProxyServer, cid: str, range_header: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare HTTP/1.1 client with a small receive buffer, so the proxy's socket fills while it is not read."""
    host, port = proxy.base_url.split("//", 1)[1].split("/", 1)[0].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    path = proxy.base_url.split(port, 1)[1] + f"/piece/{cid}"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nRange: {range_header}\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def _read_body(reader: asyncio.StreamReader, pause_s: float, step: int) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1]
    )
    await asyncio.sleep(pause_s)  # the proxy's socket fills meanwhile: the rest goes block by block
    body = bytearray()
    while len(body) < length:
        body += await reader.read(min(step, length - len(body)))
        await asyncio.sleep(0.001)
    return bytes(body)


async def test_a_warm_piece_reaches_fast_slow_and_multipart_readers_byte_for_byte(emulator, tmp_path, http):
    async with reopen_from_cache(http, emulator, tmp_path / "cache", "random-3.5MiB.bin") as (proxy, cid, data, _):
        paid = emulator.counters.bytes_sent
        url = f"{proxy.base_url}/piece/{cid}"
        n = len(data)
        for start, end in ((0, n - 1), (100, n - 1), (MiB - 7, 2 * MiB + 6), (n - 1, n - 1), (3 * MiB, n - 1)):
            async with http.get(url, headers={"Range": f"bytes={start}-{end}"}) as response:
                assert response.status == 206 and await response.read() == data[start : end + 1], (start, end)
        async with http.get(url, headers={"Range": f"bytes=0-9, {MiB}-{2 * MiB + 99}, {n - 50}-"}) as response:
            body = await response.read()
        assert response.status == 206 and response.content_type == "multipart/byteranges"
        for part in (data[0:10], data[MiB : 2 * MiB + 100], data[n - 50 :]):
            assert part in body
        reader, writer = await _raw_get(proxy, cid, "bytes=5-")
        try:
            assert await _read_body(reader, pause_s=0.3, step=16 * 1024) == data[5:]
        finally:
            writer.close()
        assert emulator.counters.bytes_sent == paid, "a warm piece is served from its cache only"


@pytest.mark.filterwarnings("error::ResourceWarning")  # a slice file left for the collector to close fails here
async def test_readers_that_reset_mid_file_leave_no_file_open_and_no_error_and_others_are_served(
    emulator, tmp_path, http, caplog
):
    caplog.set_level(logging.WARNING)
    async with reopen_from_cache(http, emulator, tmp_path / "cache", "random-3.5MiB.bin") as (proxy, cid, data, _):
        slices = tmp_path / "cache" / "slices"
        for turn in range(12):
            reader, writer = await _raw_get(proxy, cid, f"bytes={turn * 1000}-")
            await reader.readexactly(200 + turn * 5000)  # headers and some body, then the viewer is gone
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, as a killed player
            writer.close()
        await eventually(lambda: proxy.stats.open_streams == 0, within=10.0)
        await eventually(lambda: not _open_files_under(slices), within=5.0)
        async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-"}) as response:
            assert await response.read() == data
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not problems, [f"{r.name}: {r.getMessage()}" for r in problems[:5]]
