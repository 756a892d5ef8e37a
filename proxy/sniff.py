"""Content type from a piece's first bytes.

Pieces carry no type, and players care (a browser will not play ``application/octet-stream`` inline), so the
proxy looks at the magic numbers. Unknown data is ``application/octet-stream``, never a guess like
``video/mp4``. Signatures follow the WHATWG MIME Sniffing standard and Go's ``net/http/sniff.go``, which is what
Curio answers with; Matroska's DocType and the MP4 major brand refine the result.
"""

from __future__ import annotations

#: Enough bytes for every signature below (an EBML header with its DocType fits well within this).
SNIFF_BYTES = 4096
OCTET_STREAM = "application/octet-stream"

_MP4_BOX_TYPES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = b"\x42\x82"
_TS_PACKET = 188


def sniff_content_type(head: bytes) -> str:
    """The MIME type of data starting with ``head`` (give at least :data:`SNIFF_BYTES` when you can)."""
    for sniffer in (_iso_bmff, _matroska, _ogg, _riff, _simple_magic, _mpeg_ts, _mp3, _car):
        found = sniffer(head)
        if found:
            return found
    return OCTET_STREAM


def _iso_bmff(head: bytes) -> str | None:
    if len(head) < 12 or head[4:8] not in _MP4_BOX_TYPES:
        return None
    if head[4:8] != b"ftyp":
        return "video/mp4"
    brand = head[8:12]
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"M4A ", b"M4B "):
        return "audio/mp4"
    if brand.startswith(b"3gp"):
        return "video/3gpp"
    if brand in (b"avif", b"avis"):
        return "image/avif"
    if brand in (b"heic", b"heix", b"mif1"):
        return "image/heic"
    return "video/mp4"


def _matroska(head: bytes) -> str | None:
    if not head.startswith(_EBML_MAGIC):
        return None
    at = head.find(_EBML_DOCTYPE_ID, 4, 64)
    if at >= 0 and len(head) > at + 3:
        size = head[at + 2] & 0x7F  # a one-byte EBML size: 0x80 | length
        doctype = head[at + 3 : at + 3 + size]
        if doctype == b"webm":
            return "video/webm"
    return "video/x-matroska"


def _ogg(head: bytes) -> str | None:
    if not head.startswith(b"OggS"):
        return None
    if b"\x80theora" in head[:256]:
        return "video/ogg"
    return "audio/ogg"


def _riff(head: bytes) -> str | None:
    if not head.startswith(b"RIFF") or len(head) < 12:
        return None
    return {b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo", b"WEBP": "image/webp"}.get(head[8:12])


_MAGIC = (
    (b"fLaC", "audio/flac"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x00\x00\x01\xba", "video/mpeg"),
    (b"\x1f\x8b\x08", "application/gzip"),
    (b"\n\xa1gversion\x02", "application/vnd.ipld.car"),  # CARv2 pragma
)


def _simple_magic(head: bytes) -> str | None:
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def _mpeg_ts(head: bytes) -> str | None:
    if len(head) >= 2 * _TS_PACKET + 1 and all(head[i] == 0x47 for i in (0, _TS_PACKET, 2 * _TS_PACKET)):
        return "video/mp2t"
    return None


def _mp3(head: bytes) -> str | None:
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def _car(head: bytes) -> str | None:
    """CARv1: a varint-length DAG-CBOR header map with the keys ``roots`` and ``version``."""
    window = head[:96]
    if window[:1] and window[0] < 0x80 and b"eroots" in window and b"gversion" in window:
        return "application/vnd.ipld.car"
    return None


#: Every type :func:`sniff_content_type` can answer. A stored type outside it came from elsewhere (an upstream's
#: ``Content-Type``, which earlier versions kept) and is not to be believed.
SNIFFED_TYPES = frozenset(
    {
        OCTET_STREAM,
        *(kind for _, kind in _MAGIC),
        *("video/mp4", "video/quicktime", "audio/mp4", "video/3gpp", "image/avif", "image/heic"),
        *("video/webm", "video/x-matroska", "video/ogg", "audio/ogg"),
        *("audio/wav", "video/x-msvideo", "image/webp", "video/mp2t", "audio/mpeg", "application/vnd.ipld.car"),
    }
)
