"""Piece CIDs: parse, validate and convert Filecoin PieceCID v1 and v2 (FRC-0069).

A PieceCID names a piece by the root of its Fr32-padded SHA-256-trunc254 binary tree (CommP).

* v1 (``baga6ea4seaq…``): CIDv1, codec ``fil-commitment-unsealed`` (0xf101), multihash
  ``sha2-256-trunc254-padded`` (0x1012), digest = the 32-byte root. It carries no size.
* v2 (``bafkzcib…``): CIDv1, codec ``raw`` (0x55), multihash ``fr32-sha256-trunc254-padbintree``
  (0x1011), digest = ``uvarint padding | uint8 height | 32-byte root``. The payload size follows:
  ``127 · 2^(height−2) − padding``. FilBeam and Synapse use v2 only, so v2 is what we send upstream.

No PyPI package parses v2 (``multiformats`` has no 0x1011 hash), hence this module. Every error is a
:class:`CidError` whose message a user can act on.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

CODEC_RAW = 0x55
CODEC_FIL_COMMITMENT_UNSEALED = 0xF101
MULTIHASH_SHA2_256_TRUNC254_PADDED = 0x1012
MULTIHASH_FR32_SHA256_TRUNC254_PADBINTREE = 0x1011
ROOT_BYTES = 32
#: The largest tree height a v2 CID may carry here. FRC-0069 allows a byte, but 127 · 2^56 payload bytes (height 58)
#: is the tallest tree whose size fits SQLite's signed 64-bit INTEGER, where the proxy keeps sizes; it is already
#: 2^26 times a 64 GiB sector, the largest piece Filecoin stores.
MAX_HEIGHT = 58
#: The shortest sensible CID string; anything shorter is a typo, not a CID.
MIN_CID_CHARS = 8
#: The longest: a v2 piece CID is about 64 characters (base32); a pasted page of text is refused before decoding,
#: because base58 decoding is quadratic in the length and the GUI parses on its own thread.
MAX_CID_CHARS = 256
#: The multiformats unsigned varint holds at most 63 bits (9 bytes), which bounds a v2 CID's padding.
MAX_VARINT = (1 << 63) - 1
#: How much of a user's input an error message repeats, so a pasted paragraph does not flood the screen.
ECHO_CHARS = 24

#: Codecs a user may paste by mistake, with words that tell them what they have.
_FOREIGN_CODECS = {
    0x70: "an IPFS CID (dag-pb: a UnixFS file or directory), not a piece CID",
    0x71: "an IPLD CID (dag-cbor), not a piece CID",
    0x0129: "an IPLD CID (dag-json), not a piece CID",
    0x0202: "a CAR file CID, not a piece CID",
    0xF102: "a sealed-sector CID (CommR), not a piece CID",
}

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class CidError(ValueError):
    """The text is not a usable piece CID; the message says why in words a user can act on."""


@dataclass(frozen=True)
class PieceCid:
    """A piece's identity: its CommP root, and (for v2) the tree height and payload padding.

    ``height`` and ``padding`` are ``None`` for a v1 CID, which carries no size.
    """

    root: bytes
    height: int | None = None
    padding: int | None = None
    #: The form the user gave (1 or 2); conversions do not change the piece, only its spelling.
    version: int = 2

    @property
    def payload_size(self) -> int | None:
        """Bytes of real data in the piece (what an HTTP server sends), or None for v1."""
        if self.height is None or self.padding is None:
            return None
        return unpadded_capacity(self.height) - self.padding

    @property
    def padded_size(self) -> int | None:
        """Bytes of the Fr32-padded piece (32 · 2^height), or None for v1."""
        return None if self.height is None else 32 << self.height

    def v1(self) -> str:
        """The v1 spelling (``baga6ea4seaq…``)."""
        return _encode_cid(CODEC_FIL_COMMITMENT_UNSEALED, MULTIHASH_SHA2_256_TRUNC254_PADDED, self.root)

    def v2(self) -> str:
        """The v2 spelling (``bafkzcib…``); needs the size, which a v1 CID does not carry."""
        if self.height is None or self.padding is None:
            raise CidError("v1 piece CIDs carry no size; paste the v2 form (bafkzcib…) or give the payload size")
        digest = _uvarint(self.padding) + bytes([self.height]) + self.root
        return _encode_cid(CODEC_RAW, MULTIHASH_FR32_SHA256_TRUNC254_PADBINTREE, digest)

    def __str__(self) -> str:
        return self.v2() if self.height is not None else self.v1()

    def with_payload_size(self, payload_size: int) -> PieceCid:
        """This piece with its size attached (turns a v1 CID into one that can be spelt as v2)."""
        height, padding = tree_shape(payload_size)
        return PieceCid(self.root, height, padding, self.version)


def unpadded_capacity(height: int) -> int:
    """Payload bytes a full tree of this height holds: 127 · 2^(height−2) (Fr32 packs 127 into 128)."""
    return (32 << height) // 128 * 127


def tree_shape(payload_size: int) -> tuple[int, int]:
    """Height and padding of the smallest full tree that holds ``payload_size`` bytes (FRC-0069).

    Data shorter than 127 bytes is padded up to 127 (height 2).
    """
    if payload_size < 0:
        raise CidError(f"a piece cannot have a negative size ({payload_size})")
    height = 2
    while unpadded_capacity(height) < payload_size and height <= MAX_HEIGHT:
        height += 1
    padding = unpadded_capacity(height) - payload_size
    if height > MAX_HEIGHT or padding > MAX_VARINT:
        raise CidError(
            f"a piece of {payload_size} bytes cannot be named by a v2 CID here: the size is beyond what a "
            f"height-{MAX_HEIGHT} tree holds ({unpadded_capacity(MAX_HEIGHT)} bytes)"
        )
    return height, padding


def parse_piece_cid(text: str) -> PieceCid:
    """Parse a v1 or v2 piece CID, or raise :class:`CidError` saying what the text is instead."""
    if not isinstance(text, str):
        raise CidError("a piece CID is text")
    return _parse_text(text)


#: Every request names its piece by CID, and a player asks for the same few pieces again and again: the parse
#: (base32, varints; ~40 µs on the 2-core bench machine) is done once per spelling. Errors are not remembered.
@functools.lru_cache(maxsize=1024)
def _parse_text(text: str) -> PieceCid:
    cid = text.strip()
    if not cid:
        raise CidError("no piece CID given")
    if len(cid) < MIN_CID_CHARS:
        raise CidError(f"“{_echo(cid)}” is too short to be a piece CID (they start bafkzcib… or baga6ea4seaq…)")
    if len(cid) > MAX_CID_CHARS:
        raise CidError(f"“{_echo(cid)}” is too long to be a piece CID ({len(cid)} characters; they have about 64)")
    raw = _decode_multibase(cid)
    version, rest = _read_uvarint(raw, "CID version")
    if version == 0x12 and cid.startswith("Qm"):
        raise CidError("this is an IPFS CID (CIDv0, dag-pb), not a piece CID")
    if version != 1:
        raise CidError(f"unsupported CID version {version}; piece CIDs are CIDv1")
    codec, rest = _read_uvarint(rest, "codec")
    hash_code, rest = _read_uvarint(rest, "multihash code")
    digest_len, digest = _read_uvarint(rest, "digest length")
    if len(digest) != digest_len:
        raise CidError(
            f"the CID is truncated or has extra bytes: its digest says {digest_len} bytes, {len(digest)} follow"
        )
    if codec == CODEC_FIL_COMMITMENT_UNSEALED:
        return _parse_v1(hash_code, digest)
    if codec == CODEC_RAW and hash_code == MULTIHASH_FR32_SHA256_TRUNC254_PADBINTREE:
        return _parse_v2(digest)
    if codec in _FOREIGN_CODECS:
        raise CidError(f"this is {_FOREIGN_CODECS[codec]}")
    if codec == CODEC_RAW:
        raise CidError(
            f"this is a raw-block CID hashed with multihash 0x{hash_code:x}, not a piece CID "
            "(a v2 piece CID uses fr32-sha256-trunc254-padbintree, 0x1011)"
        )
    raise CidError(f"this CID has codec 0x{codec:x}, not a piece CID (v1 uses 0xf101, v2 uses raw 0x55)")


def _parse_v1(hash_code: int, digest: bytes) -> PieceCid:
    if hash_code != MULTIHASH_SHA2_256_TRUNC254_PADDED:
        raise CidError(f"this v1 piece CID uses multihash 0x{hash_code:x}; expected sha2-256-trunc254-padded (0x1012)")
    if len(digest) != ROOT_BYTES:
        raise CidError(f"a v1 piece CID's digest is 32 bytes, this one has {len(digest)}")
    return PieceCid(digest, None, None, version=1)


def _parse_v2(digest: bytes) -> PieceCid:
    padding, rest = _read_uvarint(digest, "padding")
    if len(rest) != 1 + ROOT_BYTES:
        raise CidError(f"a v2 piece CID's digest ends with a height byte and a 32-byte root; {len(rest)} bytes follow")
    height, root = rest[0], bytes(rest[1:])
    if height < 2:
        raise CidError(f"a v2 piece CID's tree height must be at least 2, this one says {height}")
    if height > MAX_HEIGHT:
        raise CidError(f"a v2 piece CID's tree height {height} is beyond any real piece (max {MAX_HEIGHT})")
    capacity = unpadded_capacity(height)
    smallest = 0 if height == 2 else unpadded_capacity(height - 1) + 1
    if padding > capacity - smallest:
        raise CidError(
            f"this v2 piece CID is inconsistent: padding {padding} is too large for a height-{height} tree "
            f"(a smaller tree would hold the data)"
        )
    return PieceCid(root, height, padding, version=2)


def _decode_multibase(cid: str) -> bytes:
    prefix, body = cid[0], cid[1:]
    try:
        if prefix in "bB":
            return base64.b32decode(body.upper() + "=" * (-len(body) % 8))
        if prefix in "fF":
            return bytes.fromhex(body)
        if prefix == "z":
            return _b58decode(body)
        if cid.startswith("Qm"):
            return _b58decode(cid)
    except ValueError as exc:
        raise CidError(f"“{_echo(cid)}” has characters that cannot appear in a CID of its encoding ({exc})") from None
    if cid.startswith(("http://", "https://")):
        raise CidError("this is a URL; paste the piece CID from it (bafkzcib…), or open the URL directly")
    raise CidError(f"“{_echo(cid)}” is not a CID: piece CIDs start with bafkzcib… (v2) or baga6ea4seaq… (v1)")


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _BASE58_ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"{char!r} is not base58")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _read_uvarint(data: bytes, what: str) -> tuple[int, bytes]:
    """Read one unsigned LEB128 varint (multiformats unsigned-varint: at most 9 bytes, minimal)."""
    value = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise CidError(f"the CID's {what} is not minimally encoded")
            return value, data[i + 1 :]
    raise CidError(f"the CID ends in the middle of its {what}; it is probably cut short")


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@functools.lru_cache(maxsize=1024)  # a response's ETag spells its piece's v1 CID: once per piece, not per request
def _encode_cid(codec: int, hash_code: int, digest: bytes) -> str:
    raw = _uvarint(1) + _uvarint(codec) + _uvarint(hash_code) + _uvarint(len(digest)) + digest
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def _echo(text: str) -> str:
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"
