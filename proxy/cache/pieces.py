"""Pieces the cache knows: identity and size, the store record, type sniffing, verification verdicts."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from proxy.cache.config import PieceInfo
from proxy.cache.piece import PieceState
from proxy.cid import CidError, PieceCid
from proxy.events import PieceKnown
from proxy.head_sniff import sniff_head
from proxy.sniff import OCTET_STREAM, SNIFF_BYTES, SNIFFED_TYPES, sniff_content_type
from proxy.store import PieceRecord
from proxy.verify import PieceToVerify

log = logging.getLogger(__name__)


class PieceBook:
    """Part of :class:`~proxy.cache.slice_cache.SliceCache`: the pieces it knows and what it records of them."""

    def _piece(self, cid: PieceCid) -> PieceState:
        key = cid.root.hex()
        piece = self._pieces.get(key)
        if piece is not None and cid.payload_size is not None and piece.size not in (None, cid.payload_size):
            self._correct_size(piece, cid)
        if piece is None:
            record = self.store.get(key)
            size = cid.payload_size if cid.payload_size is not None else (record.size if record else None)
            if size is not None and cid.height is None:
                try:
                    cid = cid.with_payload_size(size)
                except CidError:  # an earlier version stored a size no CID can carry: learn it again
                    size = None
            piece = PieceState(key, cid, size)
            if record is not None:
                piece.content_type = record.content_type if record.content_type in SNIFFED_TYPES else None
                piece.source = record.source
                piece.etags, piece.verified = dict(record.etags), record.verified
            self._pieces[key] = piece
        return piece

    def _correct_size(self, piece: PieceState, cid: PieceCid) -> None:
        """A v2 CID carries the size: an upstream's claim for the v1 spelling that disagrees was a lie.

        Everything learnt under the wrong size goes: fetches, cached slices (their ends were cut at the wrong
        place), and the recorded size.
        """
        log.warning(
            "piece %s: an upstream claimed %s bytes, the CID says %d; dropping what was cached under the wrong size",
            cid,
            piece.size,
            cid.payload_size,
        )
        for fetch in list(piece.fetches):
            if fetch.task is not None:
                fetch.task.cancel()
        self.purge(piece.key)
        piece.size, piece.cid = cid.payload_size, cid
        piece.unserved.clear()
        piece.head_seen = False

    async def describe(self, cid: PieceCid) -> PieceInfo:
        """Size (from the CID, the store, or one upstream answer), type if known, and the piece's key."""
        piece = self._piece(cid)
        if piece.size is None:
            if piece.discovery is None or piece.discovery.done():
                piece.discovery = asyncio.get_running_loop().create_future()
                self._start_fetch(piece, 0, 0, "discover")
            await asyncio.shield(piece.discovery)
            self._settle(piece)
        else:
            # Already known (this run, or the store on a warm re-open): the bookkeeping waits until the caller
            # has sent its first bytes. In a fresh process it cost 6 ms before the first byte: a SQLite write,
            # the verifier's scan of the cached chunks, and reading and sniffing the head.
            self._settle_after_open(piece)
        return self._info(piece)

    def _settle_after_open(self, piece: PieceState) -> None:
        """Settle a piece once its opening requests are answered: at once while its head is still to come from
        upstream (the wait for it hides the work), ``settle_after_s`` later when the head is cached, once for all
        the requests of that open.

        Why wait on a cached head: a player opens an MP4 with its index at the end in three requests (head, index,
        head again), each sent as soon as the last answer's first bytes arrive; settling right after the first
        (2 ms on the loop: a SQLite write, an event, a megabyte of head read from disk and copied, then its parse
        on another thread holding the GIL) held the second. Measured on the bench's warm 2 MiB open, the
        proxy's three answers took 16 ms, 8 ms with this and the GUI's batched events (``player/bridge.py``);
        nginx's whole open to first frame is 18 ms.
        """
        loop = asyncio.get_running_loop()
        if 0 not in self.cached_indexes(piece.key):
            loop.call_soon(self._settle, piece)
        elif piece.settling is None:
            piece.settling = loop.call_later(self.config.settle_after_s, self._settle, piece)

    def _settle(self, piece: PieceState) -> None:
        """Record the access (the history and eviction order), follow the piece for verification, and hand a
        cached head to the head listener (the container's layout) if it has not seen it yet."""
        assert piece.size is not None
        piece.settling = None
        self._remember(piece)
        if piece.verified is not True:
            self.hooks.on_unverified(PieceToVerify(piece.key, piece.cid, piece.size))
        if not piece.head_seen and self.hooks.on_head is not None and not self.slice_missing(piece, 0):
            head = self.read_cached(piece.key, 0, self.slice_length(piece, 0) - 1)
            if head is not None:
                piece.head_seen = self.hooks.on_head(self._info(piece), memoryview(head))

    def record_verdict(self, key: str, ok: bool) -> None:
        """The verifier's verdict: remember it; a piece whose bytes do not match its CID is purged."""
        piece = self._pieces.get(key)
        if piece is None:
            return
        piece.verified = ok
        if not ok:
            self.purge(key)
        self._remember(piece)

    def _slice_lost(self, key: str, index: int) -> None:
        """A slice left the disk (the disk tier calls this): whoever learnt from it forgets, and a verified
        piece must be verified again once it is whole."""
        self.hooks.on_slice_lost(key, index)
        piece = self._pieces.get(key)
        if piece is not None and piece.verified is True and piece.size is not None:
            piece.verified = None
            self._remember(piece)
            self.hooks.on_unverified(PieceToVerify(piece.key, piece.cid, piece.size))

    def read_cached(self, key: str, start: int, end: int) -> bytes | None:
        """Bytes ``start … end`` from memory or disk, or None if any slice of them is not cached."""
        piece = self._pieces[key]
        parts = []
        for index in range(start // self.slice_size, end // self.slice_size + 1):
            data = self.memory.get(key, index)
            if data is None:
                data = self.disk.read(key, index, self.slice_length(piece, index))
            if data is None:
                return None
            base = index * self.slice_size
            parts.append(memoryview(data)[max(start - base, 0) : end - base + 1])
        return b"".join(parts)

    def info(self, key: str) -> PieceInfo | None:
        """What is known of a piece already described, or None."""
        piece = self._pieces.get(key)
        return self._info(piece) if piece is not None and piece.size is not None else None

    def _info(self, piece: PieceState) -> PieceInfo:
        assert piece.size is not None
        return PieceInfo(piece.key, piece.cid, piece.size, piece.content_type, piece.source)

    def _remember(self, piece: PieceState) -> None:
        record = PieceRecord(
            key=piece.key,
            cid=str(piece.cid),
            size=piece.size,
            content_type=piece.content_type,
            source=piece.source,
            etags=piece.etags,
            verified=piece.verified,
        )
        self.store.put(record)
        assert piece.size is not None
        self.bus.publish(
            PieceKnown(
                piece=piece.key,
                size=piece.size,
                slice_size=self.slice_size,
                content_type=piece.content_type,
                cached_slices=tuple(sorted(self.cached_indexes(piece.key))),
            )
        )

    def unserved_bytes_by_reason(self) -> dict[str, int]:
        """Bytes fetched ahead (read-ahead, prefetch, streamed past) that no player request has read yet."""
        totals = dict(self.stats.abandoned_by_reason)
        for piece in self._pieces.values():
            for index, reason in piece.unserved.items():
                totals[reason] = totals.get(reason, 0) + self.slice_length(piece, index)
            for fragment in piece.fragments:
                if not fragment.served:
                    totals[fragment.reason] = totals.get(fragment.reason, 0) + len(fragment.data)
        return totals

    def cached_indexes(self, key: str) -> set[int]:
        return self.disk.indexes(key) | self.memory.indexes(key)

    async def content_type(self, info: PieceInfo, *, fetch_head: bool = True) -> str:
        """The piece's type, sniffed from its first bytes — never an upstream's claim, which anyone can make.

        When the head is neither cached nor on its way and ``fetch_head`` is False (a first request in the middle
        of a piece), the answer is a provisional ``application/octet-stream`` rather than a round trip and a slice
        of egress just to sniff; when the head arrives too slowly, a sniff of what came. Neither is kept: a later
        request sniffs again.
        """
        piece = self._pieces[info.key]
        if piece.content_type is None:
            if not fetch_head and 0 not in piece.inflight and self.slice_missing(piece, 0):
                return OCTET_STREAM
            length = min(info.size, SNIFF_BYTES)
            async with contextlib.aclosing(self.read(info, 0, length - 1)) as chunks:
                sniffed = await sniff_head(chunks, length)
            if not sniffed.final:
                return sniffed.content_type
            piece.content_type = sniffed.content_type
            self._remember(piece)
        return piece.content_type

    def type_from_head(self, info: PieceInfo, start: int, first: memoryview | None) -> str | None:
        """The piece's type from a response's own first bytes, when they are its head and hold a sure sniff.

        Why: the headers wait for the type, and a first open used to read the head a second time through another
        reader (and wait for it within ``SNIFF_WAIT_S``) although the bytes were in hand — on the first frame's
        critical path. The store learns the type after the caller has sent its first bytes, as in ``describe``.
        None: not the head, or too few bytes; ``content_type`` decides then.
        """
        piece = self._pieces[info.key]
        if piece.content_type is not None:
            return piece.content_type
        if start != 0 or first is None or len(first) < min(info.size, SNIFF_BYTES):
            return None
        piece.content_type = sniff_content_type(bytes(first[:SNIFF_BYTES]))
        asyncio.get_running_loop().call_soon(self._remember, piece)
        return piece.content_type

    def _set_size(self, piece: PieceState, size: int) -> None:
        # The CID first: a size it cannot carry raises before the piece looks sized, so the fetch's end fails
        # the discovery and no describer waits forever.
        piece.cid = piece.cid.with_payload_size(size) if piece.cid.height is None else piece.cid
        piece.size = size
        if piece.discovery is not None and not piece.discovery.done():
            piece.discovery.set_result(None)
