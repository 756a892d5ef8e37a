"""ETag changes: a source that now serves different bytes for a piece, and never mixing two versions."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from proxy.cache.piece import FetchRun, PieceState
from proxy.sources import Source
from proxy.upstream_body import UpstreamBody
from proxy.upstream_errors import UpstreamError

log = logging.getLogger(__name__)


class VersionChecks:
    """Part of :class:`~proxy.cache.slice_cache.SliceCache`: comparing a changed ETag's bytes with the cached ones."""

    @staticmethod
    def etag_agrees(piece: PieceState, source: str, etag: str | None) -> bool:
        """Does ``etag`` match what ``source`` said of this piece before (or is one of them unknown)?"""
        known = piece.etags.get(source)
        return known is None or etag is None or etag == known

    async def _check_version(self, piece: PieceState, fetch: FetchRun, body: UpstreamBody) -> None:
        """A source's ETag for a piece changed: compare one cached slice with what it serves now.

        Pieces are content-addressed, so a new ETag with the same bytes is cosmetic (accepted). Different bytes
        mean one of the two versions is wrong, and nothing can tell which before the whole piece is hashed;
        the only safe move is to never mix them: the old version is dropped from the cache, responses that
        already sent old bytes are cut, and this fetch fails so its readers see a clean error.
        """
        if self.etag_agrees(piece, body.source.name, body.etag):
            return
        known = piece.etags[body.source.name]  # for the message: a new version replaces it below
        cached = sorted(self.cached_indexes(piece.key) - set(fetch.buffers))
        if not cached:
            return
        index = cached[0]
        start = index * self.slice_size
        end = start + self.slice_length(piece, index) - 1
        ours = self.read_cached(piece.key, start, end)
        theirs = await self._probe(piece, body.source, start, end)
        if ours is None or theirs == ours:
            log.info("piece %s: %s changed its ETag but not its bytes", piece.key[:16], body.source.name)
            return
        body.close()
        self._new_version(piece, body.source.name, body.etag)
        raise UpstreamError(
            502,
            f"{body.source.name} now serves different bytes for this piece than before; the cached copy was "
            "dropped and no answer mixes the two versions (play again to get the new bytes)",
            f"ETag {known} became {body.etag}; slice {index} differs",
            source=body.source.name,
        )

    async def _probe(self, piece: PieceState, source: Source, start: int, end: int) -> bytes:
        """Bytes ``start … end`` straight from one source, bypassing the cache (a 200 from zero is skipped)."""
        data = bytearray()
        async with (
            self._exact_range(piece, start, end, "probe: ETag changed", [source]) as body,
            contextlib.aclosing(body.chunks()) as chunks,
        ):
            async for chunk in chunks:
                data += chunk
                if body.start + len(data) > end:
                    break
        return bytes(data[start - body.start : end - body.start + 1])

    def _new_version(self, piece: PieceState, source: str, etag: str) -> None:
        piece.version += 1
        piece.etags[source] = etag
        for fetch in list(piece.fetches):
            if fetch.task is not None and fetch.task is not asyncio.current_task():
                fetch.task.cancel()
        self.purge(piece.key)
        piece.unserved.clear()
        piece.verified = None
        self._remember(piece)
