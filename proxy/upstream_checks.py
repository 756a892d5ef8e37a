"""Checks on an upstream's answer that are about trust, not framing: its encoding and the size it claims.

Why a module of its own: each is a way a hostile or broken upstream could pass off wrong bytes as a piece, and each
is decided from headers alone, before a byte of the body is used. ``upstream.py`` calls them; neither does I/O.

* **Encodings.** The proxy asks for ``Accept-Encoding: identity`` and its client never decompresses
  (``auto_decompress=False``), so a ``Content-Encoding`` or a ``Transfer-Encoding`` other than ``chunked`` means
  the body is not the piece's bytes: a gzip 206 of the right length would otherwise be cached and served.
* **Sizes.** The store keeps sizes in SQLite's signed 64-bit INTEGER, and a v2 CID names sizes through its tree
  height (``cid.MAX_HEIGHT``); a total beyond both is a lie or a bug upstream, never a piece we could hold.

Redirects are ``proxy/redirects.py``; the pace of a body (its overall deadline) is ``upstream.Timeouts``.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.cid import MAX_HEIGHT, unpadded_capacity

#: The largest piece the proxy can hold: what the tallest tree a v2 CID may name carries (it fits SQLite's INTEGER).
MAX_PIECE_BYTES = unpadded_capacity(MAX_HEIGHT)


def encoding_problem(headers: Mapping[str, str]) -> str | None:
    """Why a body with these headers is not the piece's own bytes, or None when it is (identity coding)."""
    content = [c.strip().lower() for c in headers.get("Content-Encoding", "").split(",") if c.strip()]
    if any(c != "identity" for c in content):
        return f"it sent the body with Content-Encoding {headers['Content-Encoding']!r} although identity was asked for"
    transfer = [c.strip().lower() for c in headers.get("Transfer-Encoding", "").split(",") if c.strip()]
    if any(c not in ("chunked", "identity") for c in transfer):
        return f"it sent the body with Transfer-Encoding {headers['Transfer-Encoding']!r}; only chunked is plain bytes"
    return None


def size_problem(total: int) -> str | None:
    """Why a piece size an upstream reports cannot be a piece this proxy holds, or None when it can."""
    if total > MAX_PIECE_BYTES:
        return f"it says the piece has {total} bytes, more than any piece CID can name ({MAX_PIECE_BYTES} at most)"
    return None
