"""Where piece bytes come from: FilBeam, storage providers, URL templates — with failover, retry and resume.

Facts this module is built on (sources in ``shared/research/filbeam.md``):

* FilBeam serves ``https://{payer}.filbeam.io/{v2 cid}`` (``.calibration.filbeam.io`` on calibration), payer
  in lowercase, no ``/piece/`` prefix. On a CDN cache miss it ignores ``Range`` and streams the whole piece
  from byte 0 as a **200**; on a hit it answers 206. Every byte it streams is billed. A HEAD costs a full fetch
  there, so we never send one, and an ``Authorization`` header gets a 401, so we never forward one.
* A storage provider (Curio) serves ``{serviceURL}/piece/{cid}`` with complete Range support (Go's
  ``http.ServeContent``) and no egress charge, but slower first bytes.
* Every answer is checked: a 206 must carry exactly the ``Content-Range`` asked for, with the total size the
  CID implies; a 200 must be the whole piece. Anything else is refused and never reaches the cache.

The parts: ``proxy.sources`` (which URLs), ``proxy.upstream_body`` (reading one checked body, resumed across
breaks), ``proxy.upstream_errors`` (failures in words), ``proxy.upstream_checks`` and ``proxy.redirects`` (trust);
this module is the failover loop that ties them together.

What this module does not decide: how much to fetch and what to do with a 200 that starts before the range
asked for. The cache (``proxy.cache``) owns that, because only it knows which readers want which bytes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from proxy.cid import PieceCid
from proxy.events import (
    EventBus,
    SourceRefused,
    UpstreamFinished,
    UpstreamResponse,
    UpstreamRetry,
    UpstreamStarted,
)
from proxy.http_library import aiohttp, wait_for_certificates
from proxy.redirects import RedirectRefused, get_within_bounds
from proxy.sources import Source
from proxy.upstream_body import UpstreamBody
from proxy.upstream_checks import encoding_problem, size_problem
from proxy.upstream_errors import (
    UpstreamError,
    bad_answer,
    describe_exception,
    error_for_status,
    most_telling,
    read_error_body,
)
from proxy.upstream_warmup import warm

if TYPE_CHECKING:
    from proxy.twice import ResumeAccounting

log = logging.getLogger(__name__)

_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$")
_UNSATISFIED_RANGE_RE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$")
_USER_AGENT = "PiecePlayer/0.1 (+range proxy)"
#: A 402 (no CDN deal, quota used up) does not fix itself within a session: stop asking for an hour.
PAYMENT_REFUSAL_SECONDS = 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff per source before moving to the next one."""

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0
    #: A broken body is resumed from its last good byte; this many breaks in a row without progress end it…
    max_resumes: int = 6
    #: …and so does this many breaks in all, however much each attempt delivered (a trickling origin).
    max_resumes_total: int = 256

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    #: From sending the request to the response headers: FilBeam tries providers in turn and sets no timeout.
    first_byte: float = 15.0
    #: Longest silence inside a body before it counts as broken and is resumed.
    idle: float = 15.0
    #: A whole body may take ``body_floor`` plus its length at ``body_min_rate`` bytes/s. The idle timeout alone
    #: never ends an upstream that sends a byte every few seconds; this does (1 MiB: 30 s + 128 s). The rate is
    #: low enough that 16 fetches sharing a 1 Mbit/s link still make it; no video plays slower than that.
    body_floor: float = 30.0
    body_min_rate: float = 8 * 1024

    def body_deadline(self, length: int) -> float:
        """Seconds a body of ``length`` bytes may take from its headers to its last byte."""
        return self.body_floor + max(0, length) / self.body_min_rate


@dataclass
class EgressCounter:
    """Bytes pulled from each source, in total and per piece: what a session costs."""

    by_source: dict[str, int] = field(default_factory=dict)
    by_piece: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: int = 0

    def add(self, source: str, piece: str, n: int) -> None:
        self.by_source[source] = self.by_source.get(source, 0) + n
        per_piece = self.by_piece.setdefault(piece, {})
        per_piece[source] = per_piece.get(source, 0) + n

    @property
    def total(self) -> int:
        return sum(self.by_source.values())


class Upstream:
    """Ordered sources with failover, retry with backoff, per-piece blocks (402), and checked answers."""

    def __init__(
        self,
        sources: list[Source],
        bus: EventBus,
        *,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        clock: Callable[[], float] = time.monotonic,
        redirect_hosts: Collection[str] = (),
    ) -> None:
        self.sources = list(sources)
        #: Hosts (``name`` or ``name:port``) a source may redirect to besides its own.
        self.redirect_hosts = frozenset(redirect_hosts)
        self.bus = bus
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.egress = EgressCounter()
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        #: (piece key, source name) → (until, reason): a source that refused a piece is not asked again soon.
        self._blocked: dict[tuple[str, str], tuple[float, str]] = {}
        #: The cache's rules for a resume answered from byte 0 again (``proxy.twice``); set at the composition root.
        self.resume_accounting: ResumeAccounting | None = None
        #: Connections being opened ahead of the first request (``warm_up``).
        self._warming: asyncio.Task[int] | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            wait_for_certificates()  # the CA bundle loads beside the launch's imports (proxy.http_library)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=16, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeouts.connect, sock_read=self.timeouts.idle
                ),
                auto_decompress=False,
                headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"},
            )
        return self._session

    def warm_up(self) -> asyncio.Task[int]:
        """Open idle connections to the sources' hosts in the background (``proxy.upstream_warmup``); on the loop."""
        if self._warming is not None:
            self._warming.cancel()
        self._warming = asyncio.get_running_loop().create_task(warm(self._client(), list(self.sources)))
        return self._warming

    async def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def block(self, key: str, source: str, seconds: float, reason: str) -> None:
        self._blocked[(key, source)] = (self._clock() + seconds, reason)
        self.bus.publish(SourceRefused(piece=key, source=source, reason=reason, seconds=seconds))

    def blocked_reason(self, key: str, source: str) -> str | None:
        entry = self._blocked.get((key, source))
        if entry is None:
            return None
        until, reason = entry
        if self._clock() >= until:
            del self._blocked[(key, source)]
            return None
        return reason

    def candidates(self, key: str) -> list[Source]:
        return [s for s in self.sources if self.blocked_reason(key, s.name) is None]

    async def open(
        self,
        piece: PieceCid,
        key: str,
        start: int,
        end: int,
        *,
        size: int | None,
        fetch_id: int,
        reason: str,
        sources: list[Source] | None = None,
    ) -> UpstreamBody:
        """Ask the sources in order for bytes ``start … end`` (``end`` is clamped to the piece's end).

        Returns the first checked answer. Raises the most telling :class:`UpstreamError` when all fail.
        """
        errors: list[UpstreamError] = []
        order = sources if sources is not None else self.candidates(key)
        if not self.sources:
            raise UpstreamError(
                503,
                "No upstream is configured: set a FilBeam payer address or an upstream URL in the settings",
            )
        if not order:
            reasons = "; ".join(
                f"{s.name}: {self.blocked_reason(key, s.name)}"
                for s in self.sources
                if self.blocked_reason(key, s.name)
            )
            raise UpstreamError(502, "Every source has refused this piece for now", reasons)
        for source in order:
            for attempt in range(1, self.retry.attempts + 1):
                try:
                    return await self._open_once(source, piece, key, start, end, size, fetch_id, reason, attempt)
                except UpstreamError as exc:
                    errors.append(exc)
                    self._remember_refusal(key, source, exc)
                    if not exc.retryable or attempt == self.retry.attempts:
                        break
                    delay = self.retry.delay(attempt)
                    self.bus.publish(
                        UpstreamRetry(
                            fetch_id=fetch_id,
                            piece=key,
                            source=source.name,
                            error=str(exc),
                            resume_from=start,
                            delay=delay,
                        )
                    )
                    await asyncio.sleep(delay)
                if errors[-1].status == 416:
                    raise errors[-1]
        raise most_telling(errors)

    def _remember_refusal(self, key: str, source: Source, exc: UpstreamError) -> None:
        if exc.upstream_status == 402:
            self.block(key, source.name, PAYMENT_REFUSAL_SECONDS, exc.error)
        elif exc.upstream_status in (404, 410, 451) and source.kind != "template":
            self.block(key, source.name, 120 if exc.upstream_status == 404 else 3600, exc.error)

    async def _open_once(
        self,
        source: Source,
        piece: PieceCid,
        key: str,
        start: int,
        end: int,
        size: int | None,
        fetch_id: int,
        reason: str,
        attempt: int,
    ) -> UpstreamBody:
        url = source.url(piece)
        if size is not None:
            end = min(end, size - 1)
        self.egress.requests += 1
        self.bus.publish(
            UpstreamStarted(
                fetch_id=fetch_id,
                piece=key,
                source=source.name,
                url=url,
                start=start,
                end=end,
                reason=reason,
                attempt=attempt,
            )
        )
        t0 = time.monotonic()
        try:
            response = await asyncio.wait_for(
                get_within_bounds(self._client(), url, {"Range": f"bytes={start}-{end}"}, self.redirect_hosts),
                self.timeouts.first_byte,
            )
        except RedirectRefused as exc:
            self._finished(fetch_id, key, source, t0, None, str(exc))
            raise UpstreamError(
                502,
                f"{source.name} sent the proxy elsewhere; the redirect was not followed",
                str(exc),
                source=source.name,
            ) from None
        except TimeoutError:
            self._finished(fetch_id, key, source, t0, None, "no answer within the first-byte timeout")
            raise UpstreamError(
                504,
                f"{source.name} did not answer within {self.timeouts.first_byte:g} s",
                source=source.name,
                retryable=True,
            ) from None
        except (aiohttp.ClientError, ConnectionError, OSError) as exc:
            self._finished(fetch_id, key, source, t0, None, describe_exception(exc))
            raise UpstreamError(
                502, f"Could not reach {source.name}", describe_exception(exc), source=source.name, retryable=True
            ) from None
        try:
            body_start, body_end, total = await self._check(response, source, start, end, size)
        except UpstreamError as exc:
            response.close()
            self._finished(fetch_id, key, source, t0, response.status, exc.error)
            raise
        self.bus.publish(
            UpstreamResponse(
                fetch_id=fetch_id,
                piece=key,
                source=source.name,
                status=response.status,
                body_start=body_start,
                body_end=body_end,
                ttfb=time.monotonic() - t0,
            )
        )
        return UpstreamBody(self, piece, key, response, source, body_start, body_end, total, fetch_id, reason)

    def _finished(self, fetch_id: int, key: str, source: Source, t0: float, status: int | None, error: str) -> None:
        self.bus.publish(
            UpstreamFinished(
                fetch_id=fetch_id,
                piece=key,
                source=source.name,
                bytes_received=0,
                duration=time.monotonic() - t0,
                outcome="failed",
                status=status,
                error=error,
            )
        )

    async def _check(
        self, response: aiohttp.ClientResponse, source: Source, start: int, end: int, size: int | None
    ) -> tuple[int, int, int]:
        """Validate status and framing; returns (first byte, last byte, piece size) of the body."""
        status = response.status
        if status in (200, 206) and (problem := encoding_problem(response.headers)) is not None:
            raise bad_answer(source, problem, retryable=False)
        if status == 206:
            return self._check_partial(response, source, start, end, size)
        if status == 200:
            return self._check_full(response, source, size)
        if status == 416:
            match = _UNSATISFIED_RANGE_RE.match(response.headers.get("Content-Range", ""))
            reported = int(match.group(1)) if match else None
            if reported is not None and (problem := size_problem(reported)) is not None:
                raise bad_answer(source, problem, retryable=False)
            if size is not None and reported is not None and reported != size:
                raise bad_answer(source, f"it reports {reported} bytes but the CID says {size}")
            raise UpstreamError(
                416,
                "The requested range is beyond the end of the piece",
                source=source.name,
                upstream_status=416,
                size=reported if reported is not None else size,
            )
        detail = (await read_error_body(response)).strip()
        raise error_for_status(source, status, detail)

    def _check_partial(
        self, response: aiohttp.ClientResponse, source: Source, start: int, end: int, size: int | None
    ) -> tuple[int, int, int]:
        header = response.headers.get("Content-Range", "")
        match = _CONTENT_RANGE_RE.match(header)
        if match is None:
            raise bad_answer(source, f"206 with an unusable Content-Range {header!r}")
        first, last, total = (int(g) for g in match.groups())
        if (problem := size_problem(total)) is not None:
            raise bad_answer(source, problem, retryable=False)
        if size is not None and total != size:
            raise bad_answer(source, f"it says the piece has {total} bytes but the CID says {size}")
        if first != start or last != min(end, total - 1):
            raise bad_answer(source, f"asked for bytes {start}-{end}, got {first}-{last}")
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) != last - first + 1:
            raise bad_answer(source, f"Content-Range {first}-{last} but Content-Length {length}")
        return first, last, total

    def _check_full(self, response: aiohttp.ClientResponse, source: Source, size: int | None) -> tuple[int, int, int]:
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        if size is not None and length is not None and length != size:
            raise bad_answer(source, f"a 200 of {length} bytes but the CID says {size}")
        total = size if size is not None else length
        if total is None:
            raise bad_answer(source, "it did not say how large the piece is")
        if (problem := size_problem(total)) is not None:
            raise bad_answer(source, problem, retryable=False)
        return 0, total - 1, total
