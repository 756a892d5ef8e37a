"""Sniffing a piece's type from its head without letting a slow upstream hold the player's headers.

The response headers carry the type, so they wait for it; but an upstream that dribbles a byte every few seconds
would make the player wait hours for the :data:`~proxy.sniff.SNIFF_BYTES` a sure sniff wants. So the head is read
for at most :data:`SNIFF_WAIT_S`: a full head gives the piece's type for good, a partial one a provisional type
for this answer only (the next request sniffs again).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from proxy.sniff import sniff_content_type

#: How long the headers wait for the head; the first frame needs those bytes anyway, so this only bites when the
#: upstream is far too slow to play.
SNIFF_WAIT_S = 0.75


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    #: True when the whole head was read: the type is the piece's for good. False: provisional, do not keep it.
    final: bool


async def sniff_head(chunks: AsyncIterator[memoryview], length: int, wait_s: float = SNIFF_WAIT_S) -> Sniffed:
    """Sniff the first ``length`` bytes from ``chunks``, or what of them arrives within ``wait_s`` seconds of the
    first (the wait for the first byte is the upstream's own, bounded by its first-byte timeout).

    The caller closes ``chunks`` (``contextlib.aclosing``); a failure of the reader propagates.
    """
    head = bytearray(await anext(chunks, b""))
    try:
        async with asyncio.timeout(wait_s):
            async for chunk in chunks:
                head += chunk
    except TimeoutError:
        pass
    return Sniffed(sniff_content_type(bytes(head)), len(head) >= length)
