"""Connections to the upstreams opened before the first request, so a player's first open does not pay for them.

Why: a fresh proxy's first upstream request used to open its connection on the first frame's critical path — in
the bench, 4–15 ms on loopback on a loaded two-core machine (connection setup, the client's first-call costs), and
against FilBeam or a provider a DNS lookup and a TLS handshake on top, two or three round trips more. Direct play
pays that too, but through the proxy it came on top of the proxy's own hop. So when the proxy starts, and whenever
its sources change, it opens idle keep-alive connections to each source's host and parks them in the client's
pool, where the first request finds them.

Nothing is asked of any upstream: a connection carries no request, so no byte is paid for and no CDN fill is
started (a HEAD at FilBeam costs a full fetch; this sends nothing). A source that cannot be reached now is simply
not warmed — its first request will say why, as before. An idle connection the server closes is dropped by the
pool (or, closed as a GET goes out, retried once by the client on a new one), so nothing is lost but the warm-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from yarl import URL

from proxy.http_library import aiohttp
from proxy.sources import Source

log = logging.getLogger(__name__)

#: Idle connections per upstream host: a first open asks for the head and, for a piece with its index perhaps at
#: the end, bets on its tail at the same moment (``proxy.prefetch``): two requests that should both find one.
CONNECTIONS_PER_HOST = 2


def origins(sources: Iterable[Source]) -> list[URL]:
    """The distinct ``scheme://host:port`` of the sources, in order; a template whose host holds the CID is
    skipped (its host is only known per piece)."""
    seen: dict[tuple[str, str, int | None], URL] = {}
    for source in sources:
        url = URL(source.template.split("{cid}", 1)[0])
        if not url.is_absolute() or not url.raw_host or "{" in source.template.split("/")[2]:
            continue
        seen.setdefault((url.scheme, url.raw_host, url.port), url.origin())
    return list(seen.values())


async def warm(session: aiohttp.ClientSession, sources: Iterable[Source], per_host: int = CONNECTIONS_PER_HOST) -> int:
    """Open up to ``per_host`` idle connections to each source's host in ``session``'s pool; returns how many were
    opened. Errors are logged, never raised: a warm-up is an optimisation, and the first request reports failures."""
    results = await asyncio.gather(*(_warm_host(session, origin, per_host) for origin in origins(sources)))
    return sum(results)


async def _warm_host(session: aiohttp.ClientSession, origin: URL, per_host: int) -> int:
    """Hold ``per_host`` connections at once (the pool would hand back the same idle one otherwise), then release
    them to the pool. The request object only names the connection (host, port, TLS); it is never sent."""
    loop = asyncio.get_running_loop()
    held: list[aiohttp.connector.Connection] = []
    try:
        for _ in range(per_host):
            request = aiohttp.ClientRequest("GET", origin, loop=loop, session=session)
            held.append(await session.connector.connect(request, traces=[], timeout=session.timeout))
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.info("could not open a connection to %s ahead of the first request: %s", origin, exc)
    finally:
        for connection in held:
            with contextlib.suppress(Exception):
                connection.release()
    return len(held)
