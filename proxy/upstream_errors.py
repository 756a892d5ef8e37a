"""An upstream's failure in words: the error the proxy passes on, and how each status and fault reads to a person.

Why its own module: the sources, the body reader and the failover loop all raise these, and the words are the
product (``shared/research/filbeam.md`` §4 maps each FilBeam and Curio status to what the user should be told).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from proxy.http_library import aiohttp

if TYPE_CHECKING:
    from proxy.sources import Source

#: How much of an upstream's error body we keep for the user (FilBeam's reasons are one sentence).
ERROR_BODY_BYTES = 2048


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


async def read_error_body(response: aiohttp.ClientResponse) -> str:
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
        raw = await asyncio.wait_for(response.content.read(ERROR_BODY_BYTES), 5)
        return raw.decode("utf-8", "replace")
    return ""


def bad_answer(source: Source, what: str, *, retryable: bool = True) -> UpstreamError:
    """A framing slip may be passing (retry); an answer that is wrong by design is not (``retryable=False``: go on
    to the next source at once)."""
    return UpstreamError(
        502,
        f"{source.name} answered with bytes that do not match what was asked; nothing from it was used",
        what,
        source=source.name,
        retryable=retryable,
    )


#: Statuses whose body says why, in FilBeam's words: upstream status → (our status, (words in the body, what we
#: say after the source's name)…, what we say when none of the words is there).
_BY_WORDS: dict[int, tuple[int, tuple[tuple[str, str], ...], str]] = {
    402: (
        502,
        (
            ("quota", "will not serve this piece: the payer's CDN egress quota is used up"),
            ("withcdn=false", "will not serve this piece: its data set was stored without the CDN option"),
            (
                "no filecoin warm storage service deal",
                "will not serve this piece: this payer has no storage deal that contains it",
            ),
        ),
        "asks for payment before serving this piece",
    ),
    404: (
        404,
        (
            ("indexed yet", "does not know this piece yet (it may not have been indexed yet; try again in minutes)"),
            ("invalid cid", "rejected the link: it needs the v2 piece CID"),
            ("bad bits", "blocks this piece (it is on the Bad Bits denylist)"),
        ),
        "does not have this piece",
    ),
}


def error_for_status(source: Source, status: int, detail: str) -> UpstreamError:
    """Upstream status → what our client gets and a sentence a person understands (research §4 table)."""
    name = source.name
    lowered = detail.lower()
    if status in _BY_WORDS:
        ours, reasons, otherwise = _BY_WORDS[status]
        said = next((sentence for words, sentence in reasons if words in lowered), otherwise)
        return UpstreamError(ours, f"{name} {said}", detail, source=name, upstream_status=status)
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


def most_telling(errors: list[UpstreamError]) -> UpstreamError:
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


def describe_exception(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:199] + "…"
