"""The proxy's HTTP face: routes, security checks, and handlers that ask ``ranges`` first, then stream.

Routes, all under ``/{token}`` (unless started with ``--no-token``):

* ``GET|HEAD /piece/{cid}`` and ``/video/{cid}`` — the piece, with full RFC 9110 range semantics;
* ``GET /health`` — liveness; ``GET /stats`` — counters as JSON.

Security by default: the listener binds loopback; every request must carry the per-run random token as its first
path segment and a ``Host`` naming this loopback listener, which defeats DNS rebinding (a web page that makes
``evil.example`` resolve to 127.0.0.1 still sends ``Host: evil.example``). Client headers are never forwarded
upstream.

A player that resets a connection mid-body is normal (Qt does it on every seek): the handler ends quietly and the
reader's close releases its upstream fetch.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from proxy.cache import CacheConfig, CacheHooks, SliceCache
from proxy.cid import CidError, parse_piece_cid
from proxy.egress import EgressLedger
from proxy.events import CacheProblem, EventBus, RequestStarted, next_id
from proxy.exchange import Exchange, describe, error_response
from proxy.full_stream import WholeStreams
from proxy.http_library import web
from proxy.prefetch import MediaPrefetcher, PrefetchConfig
from proxy.routing import RoutingPolicy
from proxy.sources import Source
from proxy.store import PieceStore
from proxy.twice import resume_accounting
from proxy.upstream import RetryPolicy, Timeouts, Upstream
from proxy.upstream_errors import UpstreamError
from proxy.verify import PieceVerifier

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
STORE_NAME = "pieces.sqlite3"


@dataclass
class ProxyConfig:
    sources: list[Source]
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    #: None: a fresh random token; "": no token (``--no-token``).
    token: str | None = None
    cache: dict = field(default_factory=dict)
    prefetch: PrefetchConfig = field(default_factory=PrefetchConfig)
    #: Upstream timeouts and retry policy; None: the defaults of ``proxy.upstream`` (tests shorten them).
    timeouts: Timeouts | None = None
    retry: RetryPolicy | None = None
    #: Hosts (``name`` or ``name:port``) upstreams may redirect to besides their own (``--allow-redirect-host``).
    redirect_hosts: tuple[str, ...] = ()


@dataclass
class ServerStats:
    requests: int = 0
    bytes_served: int = 0
    open_streams: int = 0
    errors: int = 0
    #: Bytes served per piece key: with the upstream counters, what each piece cost against what it gave.
    served_by_piece: dict[str, int] = field(default_factory=dict)


class ProxyServer:
    """One proxy: cache + upstream + aiohttp site. ``await start()`` returns the base URL."""

    def __init__(self, config: ProxyConfig, bus: EventBus | None = None) -> None:
        self.config = config
        self.bus = bus or EventBus()
        self.token = secrets.token_urlsafe(16) if config.token is None else config.token
        self.stats = ServerStats()
        self.base_url = ""
        self.upstream: Upstream | None = None
        self.cache: SliceCache | None = None
        self.store: PieceStore | None = None
        self.prefetcher: MediaPrefetcher | None = None
        self.verifier: PieceVerifier | None = None
        self.egress: EgressLedger | None = None
        self._runner: web.AppRunner | None = None
        self._allowed_hosts: set[str] = set()

    async def start(self) -> str:
        self.store = self._open_store(Path(self.config.cache_dir))
        self.upstream = Upstream(
            self.config.sources,
            self.bus,
            retry=self.config.retry,
            timeouts=self.config.timeouts,
            redirect_hosts=self.config.redirect_hosts,
        )
        cache_config = CacheConfig(directory=Path(self.config.cache_dir), **self.config.cache)
        # The composition root: every part is built here, and every call one part makes into another is wired here
        # (the cache's hooks); the bus only feeds observers.
        whole = WholeStreams(self.bus, cache_config.whole_streams)
        routing = RoutingPolicy(self.upstream, cache_config.stream_gap, whole=whole)
        self.cache = SliceCache(cache_config, self.upstream, self.store, self.bus, routing=routing, whole=whole)
        self.verifier = PieceVerifier(
            self.store,
            self.bus,
            cache_config.slice_size,
            self.cache.read_cached,
            self.cache.cached_indexes,
            self.cache.record_verdict,
            quiet_s=cache_config.verify_quiet_s,
        )
        self.upstream.resume_accounting = resume_accounting(self.cache)
        self.prefetcher = MediaPrefetcher(self.cache, routing, self.bus, self.config.prefetch)
        prefetch_hooks = (
            {"on_head": self.prefetcher.on_head, "on_cold_open": self.prefetcher.on_cold_open}
            if self.config.prefetch.enabled
            else {}
        )
        self.cache.connect(
            CacheHooks(
                **prefetch_hooks,
                on_player_request=self.verifier.hold,
                on_unverified=self.verifier.track,
                on_slice_stored=self.verifier.slice_stored,
                on_slice_lost=self.verifier.slice_lost,
            )
        )
        self.egress = EgressLedger(self.bus, self.upstream.egress, self._source_kind)
        self.upstream.warm_up()  # the first request's connection, opened while the player is still starting
        app = web.Application(middlewares=[self._guard], client_max_size=1024)
        prefix = f"/{self.token}" if self.token else ""
        for name in ("piece", "video"):
            app.router.add_route("GET", f"{prefix}/{name}/{{cid}}", self._piece)
            app.router.add_route("HEAD", f"{prefix}/{name}/{{cid}}", self._piece)
        app.router.add_get(f"{prefix}/health", self._health, allow_head=True)
        app.router.add_get(f"{prefix}/stats", self._stats, allow_head=True)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        port = self._runner.addresses[0][1]  # the real port when 0 was asked for
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        self._allowed_hosts = {f"{h}:{port}" for h in (*LOOPBACK_HOSTS, host)} | {*LOOPBACK_HOSTS, host}
        self.base_url = f"http://{host}:{port}{prefix}"
        # The token is a password: logs (stderr, files, bug reports) get the address without it.
        log.info("proxy listening on http://%s:%d%s", host, port, "/<token>" if self.token else "")
        return self.base_url

    def _open_store(self, cache_dir: Path) -> PieceStore:
        """The metadata database in the cache folder or, if the folder cannot hold it (read-only, full, not a
        folder), one in memory: the proxy still plays, it only forgets sizes and types when it exits."""
        try:
            return PieceStore(cache_dir / STORE_NAME)
        except (sqlite3.Error, OSError) as exc:
            message = (
                f"the cache folder {cache_dir} cannot keep the piece database ({describe(exc)}); "
                "playing on, but nothing will be remembered after this run"
            )
            log.warning("%s", message)
            self.bus.publish(CacheProblem(message=message))
            return PieceStore(":memory:")

    # --- control from the embedding program (call on the proxy's loop) ----------------------------------------

    def set_sources(self, sources: list[Source]) -> None:
        """Replace the upstreams, in order (the GUI's settings changed, or a pasted URL names a host)."""
        assert self.upstream is not None
        self.upstream.sources[:] = sources
        self.upstream.warm_up()

    async def warm(self, raw_cid: str) -> None:
        """Fetch a piece's first slice before the player asks for it (a launch that opens it; see
        ``SliceCache.warm_head``). A failure is only logged: the player's own request meets it and says why."""
        assert self.cache is not None
        try:
            info = await self.cache.describe(parse_piece_cid(raw_cid))
            await self.cache.warm_head(info)
        except (CidError, UpstreamError) as exc:
            log.info("no head fetched ahead for %s: %s", raw_cid[:80], exc)

    def hover(self, piece_key: str, time_s: float) -> tuple[int, int] | None:
        """Prefetch what a seek to ``time_s`` would read (the seek bar's hover); None before the piece's map."""
        return self.prefetcher.hover(piece_key, time_s) if self.prefetcher is not None else None

    def republish_media(self, piece_key: str) -> None:
        """A player opens a piece again: publish the map the prefetcher built for it earlier, if any."""
        if self.prefetcher is not None:
            self.prefetcher.republish(piece_key)

    def clear_cache(self) -> None:
        assert self.cache is not None
        self.cache.clear()

    async def stop(self) -> None:
        if self.prefetcher is not None:
            await self.prefetcher.close()
        if self.verifier is not None:
            self.verifier.close()
        if self.cache is not None:
            await self.cache.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.upstream is not None:
            await self.upstream.close()
        if self.store is not None:
            self.store.close()

    # --- security ------------------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        if not request.raw_path.startswith("/"):
            # absolute-form (or authority-form): RFC 9112 §3.2.2 makes its authority, not Host, the target.
            return error_response(
                403,
                "This proxy is not a forward proxy; it only answers requests for its own address",
                f"request target {request.raw_path[:80]!r}",
            )
        host = request.headers.get("Host")
        if host is None or host.lower() not in self._allowed_hosts:
            return error_response(
                403, "This proxy only answers requests addressed to its own loopback address", f"Host header {host!r}"
            )
        if self.token:
            first = request.path.split("/", 2)[1] if request.path.startswith("/") else ""
            if not hmac.compare_digest(first.encode(), self.token.encode()):
                return error_response(
                    403,
                    "This address needs the proxy's access token in its path",
                    "the first path segment is not this run's token",
                )
        return await handler(request)

    # --- small endpoints -----------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    def snapshot(self) -> dict:
        assert self.cache is not None and self.upstream is not None
        cache, egress = self.cache, self.upstream.egress
        return {
            "requests": self.stats.requests,
            "bytes_served": self.stats.bytes_served,
            "bytes_upstream": egress.total,
            "upstream_requests": egress.requests,
            "upstream_bytes_by_source": dict(egress.by_source),
            "upstream_bytes_by_piece": {k: dict(v) for k, v in egress.by_piece.items()},
            "served_bytes_by_piece": dict(self.stats.served_by_piece),
            "cache_hits": cache.stats.hits,
            "cache_misses": cache.stats.misses,
            "bytes_from_cache": cache.stats.bytes_from_cache,
            "bytes_from_upstream": cache.stats.bytes_from_upstream,
            "open_streams": self.stats.open_streams,
            "errors": self.stats.errors,
            "memory_cache_bytes": cache.memory.used,
            "disk_cache_bytes": cache.disk.used,
            "disk_problem": cache.disk.problem,
            "fetched_bytes_by_reason": dict(cache.stats.fetched_by_reason),
            "unserved_bytes_by_reason": cache.unserved_bytes_by_reason(),
            "bytes_fetched_twice": sum(cache.stats.fetched_twice.values()),
            **self._bill(),
        }

    def _bill(self) -> dict:
        """What the session cost: per piece and source, and in US dollars at published prices (``proxy.egress``)."""
        assert self.egress is not None and self.cache is not None
        bill = self.egress.by_piece(self.cache.stats.fetched_twice)
        return {"egress_by_piece": bill, "egress_usd": sum(p["usd"] for p in bill.values())}

    def _source_kind(self, name: str) -> str | None:
        assert self.upstream is not None
        return next((s.kind for s in self.upstream.sources if s.name == name), None)

    # --- pieces --------------------------------------------------------------------------------------------

    async def _piece(self, request: web.Request) -> web.StreamResponse:
        assert self.cache is not None
        request_id = next_id()
        t0 = time.monotonic()
        self.stats.requests += 1
        raw_cid = request.match_info["cid"]
        self.bus.publish(
            RequestStarted(
                request_id=request_id,
                method=request.method,
                path=request.path,
                piece=raw_cid,
                range_header=request.headers.get("Range"),
                client=request.remote or "",
            )
        )
        exchange = Exchange(self, request, request_id, t0)
        try:
            return await exchange.run(raw_cid)
        except Exception as exc:
            # A bug (or a component that lets an OS error escape) must still reach the player as a JSON error it
            # can show, not aiohttp's plain-text 500; once the headers are out, aiohttp drops the connection.
            if exchange.started:
                raise
            log.exception("request for %s failed unexpectedly", raw_cid[:24])
            return exchange.fail(500, "The proxy failed while answering; this is a PiecePlayer bug", describe(exc))
        finally:
            exchange.finish()
