"""The seed tutorial's proxy, re-implemented faithfully for comparison only: ``python -m bench.wholefile``.

On every request it downloads the whole piece from upstream into memory, then answers the asked range from it
(aiohttp's own ``request.http_range`` parsing, as a tutorial would). It is here to show what a slice cache
avoids: the first byte waits for the whole piece, every seek pulls the whole piece again, and memory grows with
the piece size times the number of viewers. Never use it for anything else.

Prints its base URL as the first stdout line, like the other contenders.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import aiohttp
from aiohttp import web


def build_app(upstream_template: str) -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_client_session)

    async def piece(request: web.Request) -> web.StreamResponse:
        url = upstream_template.replace("{cid}", request.match_info["cid"])
        async with request.app["session"].get(url) as upstream:
            if upstream.status != 200:
                return web.Response(status=502, text=f"upstream answered {upstream.status}")
            body = await upstream.read()
            content_type = upstream.headers.get("Content-Type", "application/octet-stream")
        try:
            wanted = request.http_range
        except ValueError:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(body)}"})
        start, stop, _ = wanted.indices(len(body))
        headers = {"Accept-Ranges": "bytes", "Content-Type": content_type}
        if request.headers.get("Range") is None:
            return web.Response(body=body, headers=headers)
        if start >= len(body) or start >= stop:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(body)}"})
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(body)}"
        return web.Response(status=206, body=body[start:stop], headers=headers)

    app.router.add_get("/piece/{cid}", piece)
    return app


async def _client_session(app: web.Application):
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        app["session"] = session
        yield


async def _serve(upstream: str) -> None:
    runner = web.AppRunner(build_app(upstream), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wholefile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="upstream URL template containing {cid}")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
