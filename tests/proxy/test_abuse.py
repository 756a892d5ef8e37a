"""Abuse: who may use the proxy, and what strangers, sloppy clients and hostile input get instead.

The proxy spends the user's paid egress, so it answers only requests that carry this run's token and name its
loopback address in ``Host`` (a web page using DNS rebinding cannot forge that). Everything here goes over real
sockets — raw ones where an HTTP client library would refuse to send such a request — and after each abuse a
well-behaved client must still be served, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import socket
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy.emulator import Emulator
from proxy.server import ProxyConfig, ProxyServer
from proxy.sources import template_source
from tests.conftest import MiB, piece_of, random_piece_folder, running_emulator, start_proxy

ROOT = Path(__file__).resolve().parents[2]
#: Generous bound for "served promptly while under abuse": long enough never to flake, short enough that a
#: proxy blocked by a slow client would blow it.
PROMPTLY = 10.0


def port_of(proxy: ProxyServer) -> int:
    return int(proxy.base_url.split(":")[2].split("/")[0])


async def raw_exchange(port: int, request: bytes) -> bytes:
    """Send bytes as they are; return the response (head and a Content-Length body), or what came before EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(PROMPTLY):
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                return exc.partial
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            with contextlib.suppress(asyncio.IncompleteReadError):
                return head + await reader.readexactly(length)
            return head
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:100]
    return int(answer.split(b" ", 2)[1])


def json_error(answer: bytes) -> dict:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head, head
    document = json.loads(body)
    assert isinstance(document["error"], str) and document["error"], document
    return document


async def assert_served(proxy: ProxyServer, emulator: Emulator, http: aiohttp.ClientSession) -> None:
    """A well-behaved client still gets the right bytes, promptly."""
    cid, data = piece_of(emulator, "random-2MiB.bin")
    async with (
        asyncio.timeout(PROMPTLY),
        http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=100-100099"}) as response,
    ):
        assert (response.status, await response.read()) == (206, data[100:100100])


# --- who may ask -------------------------------------------------------------------------------------------


async def test_requests_without_this_runs_token_are_refused_before_anything_happens(proxy, emulator, http):
    cid, _ = piece_of(emulator, "tiny.bin")
    origin = proxy.base_url.rsplit("/", 1)[0]
    token = proxy.token
    for path in (
        f"/piece/{cid}",
        f"/{token[:-1]}/piece/{cid}",
        f"/{token.upper()}/piece/{cid}",
        f"/{token}x/piece/{cid}",
        f"/x/{token}/piece/{cid}",
        f"/piece/{cid}?token={token}",
        "/stats",
        "/health",
        "/",
    ):
        async with http.get(origin + path) as response:
            assert response.status == 403, path
            assert "token" in (await response.json())["error"]
            assert "Access-Control-Allow-Origin" not in response.headers
    assert emulator.counters.requests == 0, "a refused request must not cost upstream egress"
    await assert_served(proxy, emulator, http)


def test_each_run_draws_a_fresh_unguessable_token(tmp_path):
    tokens = {ProxyServer(ProxyConfig([template_source("http://x/{cid}")], tmp_path)).token for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(t) >= 22 for t in tokens)  # 16 random bytes, url-safe base64


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",  # DNS rebinding: the page's own name, resolved to 127.0.0.1
        "127.0.0.1.nip.io:{port}",
        "localhost.evil.example:{port}",
        "127.0.0.1:1",  # another port
        "192.0.2.2:{port}",
        "",
    ],
)
async def test_foreign_host_is_refused(proxy, emulator, host):
    port = port_of(proxy)
    cid, _ = piece_of(emulator, "tiny.bin")
    path = f"/{proxy.token}/piece/{cid}"
    answer = await raw_exchange(port, f"GET {path} HTTP/1.1\r\nHost: {host.format(port=port)}\r\n\r\n".encode())
    assert status_of(answer) in (400, 403)
    if status_of(answer) == 403:
        assert "loopback" in json_error(answer)["error"]
    assert emulator.counters.requests == 0


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "127.0.0.1"])
async def test_loopback_host_spellings_are_served(proxy, emulator, host):
    port = port_of(proxy)
    answer = await raw_exchange(
        port,
        f"GET /{proxy.token}/health HTTP/1.1\r\nHost: {host.format(port=port)}\r\nConnection: close\r\n\r\n".encode(),
    )
    assert status_of(answer) == 200


async def test_missing_host_is_refused(proxy, emulator, http):
    cid, _ = piece_of(emulator, "tiny.bin")
    path = f"/{proxy.token}/piece/{cid}"
    http10 = await raw_exchange(port_of(proxy), f"GET {path} HTTP/1.0\r\n\r\n".encode())
    assert status_of(http10) == 403 and "loopback" in json_error(http10)["error"]
    http11 = await raw_exchange(port_of(proxy), f"GET {path} HTTP/1.1\r\n\r\n".encode())
    assert status_of(http11) in (400, 403)  # HTTP/1.1 requires Host: aiohttp itself rejects it
    assert emulator.counters.requests == 0
    await assert_served(proxy, emulator, http)


@pytest.mark.parametrize(
    "target",
    [
        "http://evil.example/{token}/health",  # absolute-form: its authority, not Host, names the target
        "http://127.0.0.1:1/{token}/health",
        "evil.example:443",  # authority-form (CONNECT)
        "*",
    ],
)
async def test_the_proxy_is_not_a_forward_proxy(proxy, emulator, target):
    port = port_of(proxy)
    method = "CONNECT" if target.endswith(":443") else "OPTIONS" if target == "*" else "GET"
    request = f"{method} {target.format(token=proxy.token)} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    answer = await raw_exchange(port, request.encode())
    assert status_of(answer) in (400, 403, 405)
    assert emulator.counters.requests == 0


async def test_only_get_and_head_are_answered(proxy, emulator, http):
    cid, _ = piece_of(emulator, "tiny.bin")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        async with http.request(method, f"{proxy.base_url}/piece/{cid}", data=b"x" * 10) as response:
            assert response.status in (403, 405), method
            assert "Access-Control-Allow-Origin" not in response.headers
    assert emulator.counters.requests == 0
    await assert_served(proxy, emulator, http)


# --- hostile input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "segment",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "..%252F..%252Fetc%252Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "....%2F%2F....%2F%2Fetc%2Fpasswd",
        "..%5C..%5Cwindows%5Cwin.ini",
        "%00%00%00%00%00%00%00%00",
        "%ff%fe%fd%fc%fb%fa%f9%f8",
        "bafkzcib%2F..%2F..%2F..%2Fetc",
    ],
)
async def test_path_traversal_in_the_cid_segment_is_a_400_in_words(proxy, emulator, http, segment, tmp_path):
    port = port_of(proxy)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    request = f"GET /{proxy.token}/piece/{segment} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    answer = await raw_exchange(port, request.encode())
    assert status_of(answer) == 400
    assert json_error(answer)["error"].startswith("Not a piece CID")
    assert b"root:" not in answer
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, "a file appeared"
    assert emulator.counters.requests == 0
    await assert_served(proxy, emulator, http)


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd", "./../etc/passwd"])
async def test_dot_segments_never_reach_a_file(proxy, emulator, http, path):
    port = port_of(proxy)
    request = f"GET /{proxy.token}/piece/{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    answer = await raw_exchange(port, request.encode())
    assert status_of(answer) in (400, 403, 404)
    assert b"root:" not in answer
    assert emulator.counters.requests == 0
    await assert_served(proxy, emulator, http)


@pytest.mark.parametrize(
    "request_text",
    [
        "GET /{token}/health HTTP/1.1\r\nHost: {host}\r\nX-Big: " + "a" * 100_000 + "\r\n\r\n",
        "GET /{token}/health HTTP/1.1\r\nHost: {host}\r\n" + "".join(f"X-H{i}: v\r\n" for i in range(5000)) + "\r\n",
        "GET /{token}/piece/" + "b" * 100_000 + " HTTP/1.1\r\nHost: {host}\r\n\r\n",
        "GET /{token}/health HTTP/1.1\r\nHost: {host}\r\nRange: bytes=" + "9" * 20_000 + "-\r\n\r\n",
        "GET /{token}/health HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + "\x00" * 200,  # a TLS hello on the plain-text port
    ],
    ids=["100 kB header", "5000 headers", "100 kB URL", "20 000-digit range", "CL and TE", "TLS hello"],
)
async def test_absurd_requests_are_refused_and_others_still_served(proxy, emulator, http, request_text):
    port = port_of(proxy)
    text = request_text.replace("{token}", proxy.token).replace("{host}", f"127.0.0.1:{port}")
    answer = await raw_exchange(port, text.encode("latin-1"))
    assert status_of(answer) in (400, 413, 414, 431)
    assert emulator.counters.requests == 0
    await assert_served(proxy, emulator, http)


async def test_a_thousand_ranges_get_the_whole_piece_at_once(proxy, emulator, http):
    cid, data = piece_of(emulator, "random-2MiB.bin")
    header = "bytes=" + ",".join(f"{i % 250 * 4}-{i % 250 * 4 + i // 250}" for i in range(1000))
    assert header.count(",") == 999 and len(header) < 8190  # within aiohttp's header line limit
    async with (
        asyncio.timeout(PROMPTLY),
        http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": header}) as response,
    ):
        assert response.status == 200
        assert await response.read() == data
    await assert_served(proxy, emulator, http)


async def test_unicode_and_binary_in_headers_are_ignored_not_fatal(proxy, emulator, http):
    port = port_of(proxy)
    cid, data = piece_of(emulator, "tiny.bin")
    for value in ("bytes=\u0661-\u0662".encode(), b"bytes=\xff-\xfe", b"\xc3\x28", b"bytes=0-0\x00"):
        request = f"GET /{proxy.token}/piece/{cid} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        answer = await raw_exchange(port, request.encode() + b"Range: " + value + b"\r\n\r\n")
        assert status_of(answer) in (200, 206, 400), value
        if status_of(answer) == 200:
            assert answer.endswith(data)
    await assert_served(proxy, emulator, http)


# --- slow and greedy clients -------------------------------------------------------------------------------


async def test_slowloris_clients_do_not_starve_others(proxy, emulator, http):
    """100 connections dribble request headers a byte at a time; everyone else is served promptly meanwhile."""
    port = port_of(proxy)
    request = f"GET /{proxy.token}/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: {'s' * 200}\r\n"
    stop = asyncio.Event()

    async def dribble() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for byte in request.encode():
                if stop.is_set():
                    return
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        except ConnectionError:
            pass
        finally:
            writer.close()

    slow = [asyncio.create_task(dribble()) for _ in range(100)]
    try:
        await asyncio.sleep(0.5)
        for _ in range(10):
            await assert_served(proxy, emulator, http)
        assert not any(task.done() for task in slow), "the slow clients were meant to still be dribbling"
    finally:
        stop.set()
        await asyncio.gather(*slow, return_exceptions=True)


@pytest.fixture(scope="module")
def large_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_piece_folder(tmp_path_factory, "large-16MiB.bin", 16 * MiB, seed=3)


@pytest.fixture
async def large(large_dir: Path, tmp_path: Path) -> AsyncIterator[tuple[Emulator, ProxyServer]]:
    async with running_emulator(large_dir, mode="curio", latency_ms=0) as origin:
        server = await start_proxy(origin, tmp_path / "cache", readahead=2 * MiB)
        yield origin, server
        await server.stop()


async def test_a_client_that_never_reads_holds_no_one_up_and_pulls_a_bounded_amount(large, http):
    origin, proxy = large
    cid, data = piece_of(origin, "large-16MiB.bin")
    port = port_of(proxy)
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    writer.write(f"GET /{proxy.token}/piece/{cid} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    try:
        await asyncio.sleep(1.0)  # it never reads a byte
        for start in (0, 5 * MiB, 15 * MiB):
            async with (
                asyncio.timeout(PROMPTLY),
                http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": f"bytes={start}-{start + 9999}"}) as r,
            ):
                assert (r.status, await r.read()) == (206, data[start : start + 10_000])
        pulled = origin.counters.by_piece[cid].bytes_sent
        assert pulled < len(data) // 2, f"pulled {pulled} bytes for a client that read nothing"
        assert proxy.stats.open_streams == 1
    finally:
        writer.close()
    async with asyncio.timeout(PROMPTLY):
        while proxy.stats.open_streams:
            await asyncio.sleep(0.05)


# --- where it listens --------------------------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None."""
    candidates = []
    with contextlib.suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, contextlib.suppress(OSError):
            packed = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))  # SIOCGIFADDR
            candidates.append(socket.inet_ntoa(packed[20:24]))
    return next((a for a in candidates if not a.startswith("127.")), None)


async def test_default_listener_is_loopback_only(emulator, tmp_path, http):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "--upstream", emulator.base_url + "/{cid}", "--cache-dir", str(tmp_path),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        base = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert base.startswith("http://127.0.0.1:")
        port = int(base.split(":")[2].split("/")[0])
        async with http.get(f"{base}/health") as response:
            assert response.status == 200
        table = await asyncio.to_thread(Path("/proc/net/tcp").read_text)
        connections = [line.split() for line in table.splitlines()[1:]]
        listening = [c[1] for c in connections if c[3] == "0A" and int(c[1].split(":")[1], 16) == port]
        assert listening == [f"0100007F:{port:04X}"], listening  # 127.0.0.1 only, not 0.0.0.0
        address = non_loopback_address()  # where there is one, knock on it too
        if address is not None:
            with pytest.raises(OSError):
                _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 5)
                writer.close()
    finally:
        process.terminate()
        await process.communicate()


async def test_client_headers_are_never_forwarded_upstream(proxy, emulator, http):
    """FilBeam answers 401 to any ``Authorization`` (research §4); the emulator does too, so a leak would show."""
    cid, data = piece_of(emulator, "random-2MiB.bin")
    headers = {
        "Range": "bytes=0-99",
        "Authorization": "Bearer stolen",
        "Cookie": "session=1",
        "X-Forwarded-For": "1.2.3.4",
    }
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers=headers) as response:
        assert (response.status, await response.read()) == (206, data[:100])
        assert "Access-Control-Allow-Origin" not in response.headers  # a web page cannot read what it embeds
    assert emulator.counters.by_status.get(401) is None
