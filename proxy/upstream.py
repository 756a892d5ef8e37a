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

What this module does not decide: how much to fetch and what to do with a 200 that starts before the range
asked for. The cache (``proxy.cache``) owns that, because only it knows which readers want which bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

import aiohttp

from proxy.cid import PieceCid
from proxy.events import (
    EventBus,
    SourceRefused,
    UpstreamFinished,
    UpstreamResponse,
    UpstreamRetry,
    UpstreamStarted,
)
from proxy.redirects import RedirectRefused, get_within_bounds
from proxy.upstream_checks import encoding_problem, size_problem

if TYPE_CHECKING:
    from proxy.twice import ResumeAccounting

log = logging.getLogger(__name__)

FILBEAM_DOMAINS = {"mainnet": "filbeam.io", "calibration": "calibration.filbeam.io"}
_PAYER_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$")
_UNSATISFIED_RANGE_RE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$")
#: How much of an upstream's error body we keep for the user (FilBeam's reasons are one sentence).
_ERROR_BODY_BYTES = 2048
_USER_AGENT = "PiecePlayer/0.1 (+range proxy)"
#: A 402 (no CDN deal, quota used up) does not fix itself within a session: stop asking for an hour.
PAYMENT_REFUSAL_SECONDS = 3600.0
#: A source that missed a body's deadline is not asked for that piece again for this long (others are, if any).
SLOW_SOURCE_SECONDS = 120.0


class UpstreamError(Exception):
    """A fetch failed. ``status`` is what our client should get; ``error`` is a sentence for a person,
    ``detail`` the upstream's own words. ``retryable`` says whether asking again may help."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str = "",
        *,
        source: str | None = None,
        upstream_status: int | None = None,
        retryable: bool = False,
        size: int | None = None,
    ) -> None:
        super().__init__(error if not detail else f"{error} ({detail})")
        self.status = status
        self.error = error
        self.detail = detail
        self.source = source
        self.upstream_status = upstream_status
        self.retryable = retryable
        #: For a 416: the size the upstream reported, so the proxy can answer ``bytes */N`` itself.
        self.size = size


@dataclass(frozen=True)
class Source:
    """One place to fetch pieces from. ``template`` contains ``{cid}``."""

    name: str
    kind: str  # "filbeam" | "provider" | "template"
    template: str

    def url(self, piece: PieceCid) -> str:
        if self.kind == "filbeam" and piece.height is None:
            raise UpstreamError(
                400,
                "FilBeam needs the v2 piece CID (bafkzcib…), which carries the size; this is a v1 CID",
                source=self.name,
            )
        cid = piece.v2() if piece.height is not None else piece.v1()
        return self.template.replace("{cid}", quote(cid, safe=""))


def filbeam_source(payer: str, network: str = "mainnet") -> Source:
    """The FilBeam CDN for one payer wallet: ``https://{payer}.filbeam.io/{cid}`` (lowercase payer)."""
    if not _PAYER_RE.match(payer):
        raise ValueError(f"a FilBeam payer is a 0x-prefixed 40-hex-digit wallet address, not {payer!r}")
    if network not in FILBEAM_DOMAINS:
        raise ValueError(f"network must be one of {', '.join(FILBEAM_DOMAINS)}, not {network!r}")
    return Source(f"FilBeam ({network})", "filbeam", f"https://{payer.lower()}.{FILBEAM_DOMAINS[network]}/{{cid}}")


def provider_source(service_url: str) -> Source:
    """A storage provider's piece endpoint: ``{serviceURL}/piece/{cid}``, with the slash FilBeam adds too."""
    if not service_url.startswith(("http://", "https://")):
        raise ValueError(f"a provider service URL starts with http:// or https://, not {service_url!r}")
    base = service_url.rstrip("/")
    host = re.sub(r"^https?://", "", base).split("/")[0]
    return Source(f"provider {host}", "provider", f"{base}/piece/{{cid}}")


def template_source(template: str) -> Source:
    if "{cid}" not in template:
        raise ValueError(f"an upstream template must contain {{cid}}: {template!r}")
    if not template.startswith(("http://", "https://")):
        raise ValueError(f"an upstream template must be an http(s) URL: {template!r}")
    host = re.sub(r"^https?://", "", template).split("/")[0]
    return Source(f"upstream {host}", "template", template)


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


class UpstreamBody:
    """A checked upstream body: bytes ``start … end`` of a piece of ``size`` bytes, contiguous, in order.

    A broken connection is resumed transparently with a new range from the next byte (on any source), so
    readers see either every byte or an :class:`UpstreamError`, never a silent gap.
    """

    def __init__(
        self,
        upstream: Upstream,
        piece: PieceCid,
        key: str,
        response: aiohttp.ClientResponse,
        source: Source,
        start: int,
        end: int,
        size: int,
        fetch_id: int,
        reason: str,
    ) -> None:
        self._upstream = upstream
        self._piece = piece
        self._key = key
        self._response: aiohttp.ClientResponse | None = response
        self.source = source
        self.status = response.status
        self.start = start
        self.end = end
        self.size = size
        self.etag = response.headers.get("ETag")
        self.fetch_id = fetch_id
        self.reason = reason
        self.received = 0
        self._t0 = time.monotonic()
        self._deadline = self._t0 + upstream.timeouts.body_deadline(end - start + 1)
        self._finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body, resuming broken transfers; raises :class:`UpstreamError` when it cannot."""
        position = self.start
        resumes = 0  # consecutive breaks without a byte of progress in between
        total_resumes = 0
        while position <= self.end:
            response = self._response
            assert response is not None
            try:
                chunk, broken = await response.content.readany(), None
                if not chunk:
                    broken = "body ended early"
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                # Bytes that arrived before the break are paid for: keep them, resume after them.
                chunk, broken = _salvage(response), f"connection broke: {_describe(exc)}"
            if chunk:
                if len(chunk) > self.end - position + 1:
                    self._finish("failed", error="upstream sent more bytes than it announced")
                    raise UpstreamError(
                        502,
                        f"{self.source.name} sent more bytes than it announced; the piece was not served from it",
                        source=self.source.name,
                    )
                position += len(chunk)
                resumes = 0
                self.received += len(chunk)
                self._upstream.egress.add(self.source.name, self._key, len(chunk))
                yield chunk
            if position <= self.end and time.monotonic() > self._deadline:
                broken = self._too_slow(position)
            if broken is None or position > self.end:
                continue
            resumes += 1
            total_resumes += 1
            if resumes > self._upstream.retry.max_resumes or total_resumes > self._upstream.retry.max_resumes_total:
                self._finish("failed", error=broken)
                raise UpstreamError(
                    502,
                    f"{self.source.name} kept breaking the transfer off; gave up after {resumes - 1} resumes in a row",
                    broken,
                    source=self.source.name,
                )
            await self._resume(position, broken, resumes)
        self._finish("complete")

    def _too_slow(self, position: int) -> str:
        """The body missed its deadline: stop asking this source for the piece, and resume on another if there is
        one; raises :class:`UpstreamError` when there is none."""
        elapsed = time.monotonic() - self._t0
        why = (
            f"{self.source.name} sent {position - self.start} of {self.end - self.start + 1} bytes in {elapsed:.0f} s, "
            "far too slowly to play"
        )
        self._upstream.block(self._key, self.source.name, SLOW_SOURCE_SECONDS, why)
        if not self._upstream.candidates(self._key):
            self._finish("failed", error=why)
            raise UpstreamError(504, why, source=self.source.name)
        self._deadline = time.monotonic() + self._upstream.timeouts.body_deadline(self.end - position + 1)
        return why

    async def _resume(self, position: int, why: str, attempt: int) -> None:
        """Replace the broken response with a new one starting at ``position`` (any source may answer)."""
        self._drop_response()
        delay = self._upstream.retry.delay(attempt)
        self._upstream.bus.publish(
            UpstreamRetry(
                fetch_id=self.fetch_id,
                piece=self._key,
                source=self.source.name,
                error=why,
                resume_from=position,
                delay=delay,
            )
        )
        await asyncio.sleep(delay)
        accounting = self._upstream.resume_accounting
        # A broken whole stream (a 200 from byte 0): a true-range source sends only the rest, FilBeam may send all
        sources = accounting.sources(self._key, position) if accounting is not None and self.status == 200 else None
        resumed = await self._upstream.open(
            self._piece,
            self._key,
            position,
            self.end,
            size=self.size,
            fetch_id=self.fetch_id,
            reason="resume",
            sources=sources,
        )
        skip = position - resumed.start  # a 200 from zero again: skip what we already have
        self._response, resumed._response = resumed._response, None
        self.source, self.status = resumed.source, resumed.status
        resumed._finished = True
        refusal = accounting.admit_restart(self._key, self.source.name) if accounting and skip > 0 else None
        if refusal is not None:  # a paid restart from byte 0, past the piece's limit: not read
            self._finish("failed", error=refusal)
            raise UpstreamError(502, refusal, source=self.source.name)
        while skip > 0:
            chunk = await self._response.content.read(min(skip, 1 << 16))
            if not chunk:
                raise UpstreamError(502, f"{self.source.name} ended the body while resuming", source=self.source.name)
            self._upstream.egress.add(self.source.name, self._key, len(chunk))
            if accounting is not None:  # bytes before the break point, paid for a second time
                accounting.repulled(self._key, len(chunk))
            skip -= len(chunk)

    def close(self) -> None:
        """Stop pulling now: the connection is closed, not returned to the pool, so upstream stops sending."""
        if not self._finished:
            self._finish("cancelled")
        self._drop_response()

    def socket(self) -> socket.socket | None:
        """The connection's socket, to shrink its receive buffer while the body is held unread
        (``proxy.full_stream``); None when there is no open connection."""
        connection = self._response.connection if self._response is not None else None
        transport = connection.transport if connection is not None else None
        return transport.get_extra_info("socket") if transport is not None else None

    def _drop_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def _finish(self, outcome: str, error: str | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        if outcome == "complete" and self._response is not None:
            self._response.release()
            self._response = None
        self._upstream.bus.publish(
            UpstreamFinished(
                fetch_id=self.fetch_id,
                piece=self._key,
                source=self.source.name,
                bytes_received=self.received,
                duration=time.monotonic() - self._t0,
                outcome=outcome,
                status=self.status,
                error=error,
            )
        )


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

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=16, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeouts.connect, sock_read=self.timeouts.idle
                ),
                auto_decompress=False,
                headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"},
            )
        return self._session

    async def close(self) -> None:
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
        raise _most_telling(errors)

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
            self._finished(fetch_id, key, source, t0, None, _describe(exc))
            raise UpstreamError(
                502, f"Could not reach {source.name}", _describe(exc), source=source.name, retryable=True
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
            raise _bad_answer(source, problem, retryable=False)
        if status == 206:
            return self._check_partial(response, source, start, end, size)
        if status == 200:
            return self._check_full(response, source, size)
        if status == 416:
            match = _UNSATISFIED_RANGE_RE.match(response.headers.get("Content-Range", ""))
            reported = int(match.group(1)) if match else None
            if reported is not None and (problem := size_problem(reported)) is not None:
                raise _bad_answer(source, problem, retryable=False)
            if size is not None and reported is not None and reported != size:
                raise _bad_answer(source, f"it reports {reported} bytes but the CID says {size}")
            raise UpstreamError(
                416,
                "The requested range is beyond the end of the piece",
                source=source.name,
                upstream_status=416,
                size=reported if reported is not None else size,
            )
        detail = (await _read_error_body(response)).strip()
        raise _error_for_status(source, status, detail)

    def _check_partial(
        self, response: aiohttp.ClientResponse, source: Source, start: int, end: int, size: int | None
    ) -> tuple[int, int, int]:
        header = response.headers.get("Content-Range", "")
        match = _CONTENT_RANGE_RE.match(header)
        if match is None:
            raise _bad_answer(source, f"206 with an unusable Content-Range {header!r}")
        first, last, total = (int(g) for g in match.groups())
        if (problem := size_problem(total)) is not None:
            raise _bad_answer(source, problem, retryable=False)
        if size is not None and total != size:
            raise _bad_answer(source, f"it says the piece has {total} bytes but the CID says {size}")
        if first != start or last != min(end, total - 1):
            raise _bad_answer(source, f"asked for bytes {start}-{end}, got {first}-{last}")
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) != last - first + 1:
            raise _bad_answer(source, f"Content-Range {first}-{last} but Content-Length {length}")
        return first, last, total

    def _check_full(self, response: aiohttp.ClientResponse, source: Source, size: int | None) -> tuple[int, int, int]:
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        if size is not None and length is not None and length != size:
            raise _bad_answer(source, f"a 200 of {length} bytes but the CID says {size}")
        total = size if size is not None else length
        if total is None:
            raise _bad_answer(source, "it did not say how large the piece is")
        if (problem := size_problem(total)) is not None:
            raise _bad_answer(source, problem, retryable=False)
        return 0, total - 1, total


def _salvage(response: aiohttp.ClientResponse) -> bytes:
    """The bytes aiohttp buffered before the connection broke.

    ``StreamReader.readany()`` raises a recorded connection error before returning data already buffered
    (aiohttp 3.x), which would throw away bytes the upstream has already billed; its internal
    ``_read_nowait`` hands them over. Without it (a future aiohttp), nothing is salvaged and the resume simply
    starts earlier — slower, never wrong.
    """
    read_buffered = getattr(response.content, "_read_nowait", None)
    if read_buffered is None:
        return b""
    try:
        return bytes(read_buffered(-1))
    except Exception:  # the internal API changed shape: fall back to resuming earlier
        return b""


async def _read_error_body(response: aiohttp.ClientResponse) -> str:
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
        raw = await asyncio.wait_for(response.content.read(_ERROR_BODY_BYTES), 5)
        return raw.decode("utf-8", "replace")
    return ""


def _bad_answer(source: Source, what: str, *, retryable: bool = True) -> UpstreamError:
    """A framing slip may be passing (retry); an answer that is wrong by design is not (``retryable=False``: go on
    to the next source at once)."""
    return UpstreamError(
        502,
        f"{source.name} answered with bytes that do not match what was asked; nothing from it was used",
        what,
        source=source.name,
        retryable=retryable,
    )


def _error_for_status(source: Source, status: int, detail: str) -> UpstreamError:
    """Upstream status → what our client gets and a sentence a person understands (research §4 table)."""
    name = source.name
    lowered = detail.lower()
    if status == 402:
        if "quota" in lowered:
            error = f"{name} will not serve this piece: the payer's CDN egress quota is used up"
        elif "withcdn=false" in lowered:
            error = f"{name} will not serve this piece: its data set was stored without the CDN option"
        elif "no filecoin warm storage service deal" in lowered:
            error = f"{name} will not serve this piece: this payer has no storage deal that contains it"
        else:
            error = f"{name} asks for payment before serving this piece"
        return UpstreamError(502, error, detail, source=name, upstream_status=status)
    if status == 404:
        if "indexed yet" in lowered:
            error = f"{name} does not know this piece yet (it may not have been indexed yet; try again in minutes)"
        elif "invalid cid" in lowered:
            error = f"{name} rejected the link: it needs the v2 piece CID"
        elif "bad bits" in lowered:
            error = f"{name} blocks this piece (it is on the Bad Bits denylist)"
        else:
            error = f"{name} does not have this piece"
        return UpstreamError(404, error, detail, source=name, upstream_status=status)
    if status in (401, 405):
        return UpstreamError(
            502,
            f"{name} rejected the proxy's request ({status}); this is a PiecePlayer bug",
            detail,
            source=name,
            upstream_status=status,
        )
    if status == 400:
        return UpstreamError(
            502,
            f"{name} says the link is malformed (check the payer address and CID)",
            detail,
            source=name,
            upstream_status=status,
        )
    if status in (403, 451, 410):
        return UpstreamError(
            502, f"{name} refuses to serve this piece ({status})", detail, source=name, upstream_status=status
        )
    if status in (408, 429, 503, 504) or status >= 500:
        return UpstreamError(
            502, f"{name} is failing right now ({status})", detail, source=name, upstream_status=status, retryable=True
        )
    return UpstreamError(
        502, f"{name} answered {status}, which the proxy cannot use", detail, source=name, upstream_status=status
    )


def _most_telling(errors: list[UpstreamError]) -> UpstreamError:
    """Of several sources' failures, the one a person should read.

    A payment refusal explains most; a source that failed outright means "not found" elsewhere is not the whole
    story (the piece may be there), so "not found" is reported only when it is all we learnt.
    """

    def rank(e: UpstreamError) -> int:
        if e.upstream_status == 402:
            return 0
        if e.status == 404:
            return 2
        return 1

    best = min(errors, key=rank)
    if len(errors) > 1:
        others = "; ".join(f"{e.source}: {e.error}" for e in errors if e is not best and e.source)
        if others:
            return UpstreamError(
                best.status,
                best.error,
                "; ".join(x for x in (best.detail, others) if x),
                source=best.source,
                upstream_status=best.upstream_status,
            )
    return best


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:199] + "…"
