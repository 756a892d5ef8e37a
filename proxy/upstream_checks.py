"""Checks on an upstream's answer that are about trust, not framing: encodings, sizes, redirects.

Why a module of its own: every one of these is a way a hostile or broken upstream could pass off wrong bytes as a
piece, or use the proxy against the user's network, and each is decided from headers alone — before a
byte of the body is used. ``upstream.py`` calls them; none of them does I/O.

* **Encodings.** The proxy asks for ``Accept-Encoding: identity`` and its client never decompresses
  (``auto_decompress=False``), so a ``Content-Encoding`` or a ``Transfer-Encoding`` other than ``chunked`` means
  the body is not the piece's bytes: a gzip 206 of the right length would otherwise be cached and served.
* **Sizes.** The store keeps sizes in SQLite's signed 64-bit INTEGER, and a v2 CID names sizes through its tree
  height (``cid.MAX_HEIGHT``); a total beyond both is a lie or a bug upstream, never a piece we could hold.
* **Redirects.** Followed only within the source's own host and port (or its https upgrade), or to hosts the user
  listed: otherwise a bad upstream could make the proxy issue GETs into the LAN and relay what they answer.

(The pace of a body — its overall deadline — is ``upstream.Timeouts.body_deadline``: it needs the body's clock.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from yarl import URL

from proxy.cid import MAX_HEIGHT, unpadded_capacity

#: The largest piece the proxy can hold: what the tallest tree a v2 CID may name carries (it fits SQLite's INTEGER).
MAX_PIECE_BYTES = unpadded_capacity(MAX_HEIGHT)
#: Statuses that carry a ``Location`` to follow (RFC 9110 §15.4); 300 and 304 do not redirect a GET.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Hops followed before the chain counts as a loop.
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def redirect_problem(source_url: str, location: URL, allowed_hosts: Collection[str] = ()) -> str | None:
    """Why the proxy must not follow a redirect from ``source_url`` to ``location``, or None when it may.

    Allowed: the same host and port as the source, the same host upgraded from http to https on its default
    port, or a host (``name`` or ``name:port``) the user listed in ``allowed_hosts``.
    """
    if location.scheme not in _DEFAULT_PORTS or not location.host:
        return f"it redirected to {_shown(location)}, which is not an http(s) address"
    origin = URL(source_url)
    host = location.host.lower()
    if host == (origin.host or "").lower():
        if location.port == origin.port:
            return None
        if location.scheme == "https" and origin.scheme == "http" and location.port == _DEFAULT_PORTS["https"]:
            return None
    listed = {h.lower() for h in allowed_hosts}
    if host in listed or f"{host}:{location.port}" in listed:
        return None
    return (
        f"it redirected to {_shown(location)}; redirects are followed only within {origin.host}:{origin.port} "
        "(--allow-redirect-host lets a source move pieces to another host)"
    )


def _shown(url: URL) -> str:
    text = str(url.with_query(None).with_fragment(None))
    return text if len(text) <= 120 else text[:119] + "…"
