"""What the user asked to play: a PieceCID, a URL that names one, or a plain media URL.

Pasting ``https://0xabc….filbeam.io/bafkzcib…`` should just work: the CID is taken from the path and the URL,
with the CID replaced by ``{cid}``, becomes an extra upstream for this piece. A URL that names no piece is played
directly, without the proxy (nothing to cache by content address).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from player.units import format_bytes
from proxy.api import CidError, PieceCid, parse_piece_cid

_SCHEMES = ("http://", "https://")
#: A local file (File ▸ Open file…, or one picked again from the recent pieces): played directly.
_FILE_SCHEME = "file://"
#: The desktop file's URL scheme: a ``pieceplayer://<PieceCID>`` link on a web page opens that piece here.
APP_SCHEME = "pieceplayer:"


@dataclass(frozen=True)
class Target:
    text: str
    #: The piece, when the input names one.
    cid: PieceCid | None = None
    #: The CID as the user spelled it (v1 or v2), for the proxy URL and the history.
    cid_text: str | None = None
    #: An upstream URL template (``…/{cid}…``) taken from a pasted URL.
    template: str | None = None
    #: A media URL that names no piece: played without the proxy.
    direct_url: str | None = None

    def describe(self) -> str:
        """One line for the CID bar: what was understood."""
        if self.direct_url and self.direct_url.startswith(_FILE_SCHEME):
            return "A file on this computer: it plays directly"
        if self.direct_url:
            return "A media URL without a piece CID: it plays directly, without the proxy's cache"
        assert self.cid is not None
        size = self.cid.payload_size
        kind = f"v{self.cid.version} PieceCID"
        where = f" from {urlsplit(self.template).netloc}" if self.template else ""
        return f"{kind}{where} · {format_bytes(size)}" if size is not None else f"{kind}{where} · size learnt on open"


def parse_target(text: str) -> Target:
    """Understand the CID bar's text; raises :class:`CidError` with a sentence the user can act on."""
    text = text.strip()
    if not text:
        raise CidError("paste a PieceCID (bafkzcib…) or a URL")
    if text.lower().startswith(APP_SCHEME):
        return _app_link(text)
    if text.lower().startswith(_FILE_SCHEME):
        return Target(text=text, direct_url=text)
    if not text.lower().startswith(_SCHEMES):
        if "://" in text:
            raise CidError(
                f"only http:// and https:// URLs (and local files) can be played, not {text.split('://')[0]}://"
            )
        cid = parse_piece_cid(text)
        return Target(text=text, cid=cid, cid_text=text)
    parts = urlsplit(text)
    if not parts.netloc:
        raise CidError("this URL has no host name")
    segments = parts.path.split("/")
    for position in range(len(segments) - 1, -1, -1):
        segment = segments[position]
        if len(segment) < 8:
            continue
        try:
            cid = parse_piece_cid(segment)
        except CidError:
            continue
        path = "/".join([*segments[:position], "{cid}", *segments[position + 1 :]])
        template = f"{parts.scheme}://{parts.netloc}{path}" + (f"?{parts.query}" if parts.query else "")
        return Target(text=text, cid=cid, cid_text=segment, template=template)
    return Target(text=text, direct_url=text)


def _app_link(text: str) -> Target:
    """``pieceplayer://<cid>``; browsers may add a trailing slash or percent-escapes, which are ignored."""
    cid_text = unquote(text[len(APP_SCHEME) :]).strip().strip("/")
    if not cid_text:
        raise CidError("this pieceplayer:// link names no piece: it should end with a PieceCID (bafkzcib…)")
    return Target(text=cid_text, cid=parse_piece_cid(cid_text), cid_text=cid_text)


def piece_path(cid_text: str) -> str:
    return f"/piece/{quote(cid_text, safe='')}"
