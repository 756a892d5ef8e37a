"""Following an upstream's redirects without letting it point the proxy at the user's network.

aiohttp follows redirects to any http(s) host and port; a bad upstream could then make the proxy issue GETs into
the LAN and relay what they answer (an upstream's error body reaches the player). So the proxy follows them itself:
at most :data:`MAX_REDIRECTS` hops, each only within the source's own host and port (or its https upgrade), or to a
host the user listed (``--allow-redirect-host``). A refused hop sends no request to its target.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from yarl import URL

from proxy.http_library import aiohttp

#: Statuses that carry a ``Location`` to follow (RFC 9110 §15.4); 300 and 304 do not redirect a GET.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Hops followed before the chain counts as a loop.
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RedirectRefused(Exception):
    """The upstream redirected where the proxy does not go; the message says where and why."""


async def get_within_bounds(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str], allowed_hosts: Collection[str] = ()
) -> aiohttp.ClientResponse:
    """GET ``url``, following redirects only where :func:`redirect_problem` allows; raises :class:`RedirectRefused`."""
    origin = url
    for _ in range(MAX_REDIRECTS + 1):
        response = await session.get(url, headers=headers, allow_redirects=False)
        location = response.headers.get("Location")
        if response.status not in REDIRECT_STATUSES or location is None:
            return response
        response.close()
        try:
            target = response.url.join(URL(location))
        except ValueError:
            raise RedirectRefused(f"it redirected to an unusable address {location[:120]!r}") from None
        problem = redirect_problem(origin, target, allowed_hosts)
        if problem is not None:
            raise RedirectRefused(problem)
        url = str(target)
    raise RedirectRefused(f"it redirected more than {MAX_REDIRECTS} times")


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
