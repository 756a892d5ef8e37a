"""Piece commitment (CommP): Fr32 padding + SHA-256-trunc254 binary tree, streaming and chunked.

The algorithm (FRC-0069; synapse-core ``piece/internal/{fr32,merkle}.ts``):

1. zero-pad the payload to ``127 · 2^k`` bytes (at least 127);
2. Fr32-expand every 127-byte quad into 128 bytes: the quad is a 1016-bit little-endian number cut into four
   254-bit limbs, each stored in a 32-byte little-endian word whose top two bits are zero;
3. those 32-byte words are the leaves; a parent is ``sha256(left ‖ right)`` with the top two bits of its last
   byte cleared (``& 0x3f``), so every node is a valid field element.

Why chunked: the proxy caches pieces slice by slice, in any order. :func:`chunk_root` hashes one aligned chunk
of ``127 · 2^k`` raw bytes into its subtree root as soon as that chunk is complete, and
:func:`piece_cid_from_chunk_roots` finishes the tree from those roots, so verifying a fully cached piece needs
no second pass over its bytes. Zero padding needs no hashing at all: the root of an all-zero subtree of each
height is precomputed.

Speed: the Fr32 step is vectorised with NumPy; SHA-256 is hashlib (OpenSSL). The tree costs one hashlib call
per node (2^25 for 1 GiB), which bounds throughput in CPython to a few tens of MiB/s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from proxy.cid import PieceCid, tree_shape, unpadded_capacity

QUAD_RAW = 127
QUAD_PADDED = 128
NODE_BYTES = 32
#: Tree levels one Fr32 quad spans: 4 leaves → height 2.
QUAD_HEIGHT = 2
#: Height of the subtree of one default verification chunk: 127 · 2^13 raw bytes (≈ 1 MiB), 2^15 leaves.
DEFAULT_CHUNK_HEIGHT = 15
_TOP_BITS_MASK = 0x3F
_READ_BYTES = 1 << 22


def _zero_roots(levels: int) -> list[bytes]:
    roots = [bytes(NODE_BYTES)]
    for _ in range(levels):
        roots.append(_parent(roots[-1] + roots[-1]))
    return roots


def _parent(pair: bytes | memoryview) -> bytes:
    digest = bytearray(hashlib.sha256(pair).digest())
    digest[-1] &= _TOP_BITS_MASK
    return bytes(digest)


#: Root of an all-zero subtree of each height (Fr32 of zeros is zeros, so zero padding is a zero subtree).
ZERO_ROOTS = _zero_roots(64)


def chunk_raw_size(chunk_height: int) -> int:
    """Raw (unpadded) bytes whose Fr32 expansion fills a subtree of ``chunk_height``."""
    return unpadded_capacity(chunk_height)


def fr32_pad(raw: bytes | bytearray | memoryview) -> bytes:
    """Fr32-expand raw bytes (a multiple of 127) into 32-byte leaves, 128 bytes per 127.

    Word ``w`` of a quad is bits ``254·w … 254·w+253`` of the quad: a byte-aligned window shifted by
    ``(254·w) mod 8 = 0, 6, 4, 2`` bits, with the top two bits cleared.
    """
    import numpy as np

    if len(raw) % QUAD_RAW:
        raise ValueError(f"Fr32 padding works on multiples of 127 bytes, got {len(raw)}")
    quads = np.frombuffer(raw, dtype=np.uint8).reshape(-1, QUAD_RAW)
    # One spare zero byte per quad so the last window can read "byte 127" without a branch.
    src = np.zeros((quads.shape[0], QUAD_RAW + 1), dtype=np.uint16)
    src[:, :QUAD_RAW] = quads
    out = np.empty((quads.shape[0], QUAD_PADDED), dtype=np.uint8)
    for word, (start, shift) in enumerate(((0, 0), (31, 6), (63, 4), (95, 2))):
        low = src[:, start : start + NODE_BYTES] >> shift
        high = src[:, start + 1 : start + NODE_BYTES + 1] << (8 - shift) if shift else 0
        out[:, word * NODE_BYTES : (word + 1) * NODE_BYTES] = (low | high) & 0xFF
        out[:, (word + 1) * NODE_BYTES - 1] &= _TOP_BITS_MASK
    return out.tobytes()


def _reduce_level(nodes: bytes) -> bytes:
    """One tree level up: hash each pair of 32-byte nodes, clear each parent's top two bits."""
    import numpy as np

    view = memoryview(nodes)
    sha = hashlib.sha256
    parents = bytearray(b"".join([sha(view[i : i + 64]).digest() for i in range(0, len(nodes), 64)]))
    np.frombuffer(parents, dtype=np.uint8)[NODE_BYTES - 1 :: NODE_BYTES] &= _TOP_BITS_MASK
    return bytes(parents)


def subtree_root(leaves: bytes) -> bytes:
    """Root of a full binary tree over ``leaves`` (a power-of-two count of 32-byte nodes)."""
    nodes = leaves
    while len(nodes) > NODE_BYTES:
        nodes = _reduce_level(nodes)
    return nodes


def chunk_root(raw: bytes | bytearray | memoryview, chunk_height: int = DEFAULT_CHUNK_HEIGHT) -> bytes:
    """Subtree root of one aligned chunk of a piece; a short (last) chunk is zero-padded.

    The subtree is built only over the quads present; the zero tail is folded in with :data:`ZERO_ROOTS`.
    """
    capacity = chunk_raw_size(chunk_height)
    if len(raw) > capacity:
        raise ValueError(f"a height-{chunk_height} chunk holds {capacity} raw bytes, got {len(raw)}")
    data = bytes(raw)
    if len(data) % QUAD_RAW:
        data += bytes(QUAD_RAW - len(data) % QUAD_RAW)
    stack = _MerkleStack()
    # Feed the present quads as the largest power-of-two groups, so each group is one vectorised pass.
    offset, quads = 0, len(data) // QUAD_RAW
    while quads:
        group = 1 << (quads.bit_length() - 1)
        size = group * QUAD_RAW
        stack.push(subtree_root(fr32_pad(data[offset : offset + size])), QUAD_HEIGHT + group.bit_length() - 1)
        offset += size
        quads -= group
    return stack.root(chunk_height)


class _MerkleStack:
    """Left-to-right subtrees of decreasing height, merged as equal heights meet (a binary counter)."""

    def __init__(self) -> None:
        self._nodes: list[tuple[int, bytes]] = []

    def push(self, root: bytes, height: int) -> None:
        while self._nodes and self._nodes[-1][0] == height:
            _, left = self._nodes.pop()
            root, height = _parent(left + root), height + 1
        if self._nodes and self._nodes[-1][0] < height:
            raise ValueError("subtrees must be pushed left to right in non-increasing height")
        self._nodes.append((height, root))

    def root(self, height: int) -> bytes:
        """The root of a tree of ``height`` whose remaining right part is zeros."""
        if not self._nodes:
            return ZERO_ROOTS[height]
        nodes = list(self._nodes)
        root_height, root = nodes.pop()
        while root_height < height:
            if nodes and nodes[-1][0] == root_height:
                _, left = nodes.pop()
                root = _parent(left + root)
            else:
                root = _parent(root + ZERO_ROOTS[root_height])
            root_height += 1
        if nodes or root_height != height:
            raise ValueError(f"the data does not fit a tree of height {height}")
        return root


def piece_cid_from_chunk_roots(
    roots: Iterable[bytes], payload_size: int, chunk_height: int = DEFAULT_CHUNK_HEIGHT
) -> PieceCid:
    """Finish the piece tree from the roots of its aligned chunks (in order); the tail is zeros.

    A piece smaller than one chunk has a tree lower than ``chunk_height``: its single chunk is hashed at the
    piece's own height instead, so callers with small pieces should use :class:`CommP` directly.
    """
    height, padding = tree_shape(payload_size)
    if height < chunk_height:
        raise ValueError(f"a {payload_size}-byte piece is smaller than one height-{chunk_height} chunk")
    stack = _MerkleStack()
    for root in roots:
        stack.push(root, chunk_height)
    return PieceCid(stack.root(height), height, padding)


class CommP:
    """Streaming piece commitment: feed bytes with :meth:`update`, read the CID with :meth:`piece_cid`."""

    def __init__(self, chunk_height: int = DEFAULT_CHUNK_HEIGHT) -> None:
        self._chunk_height = chunk_height
        self._chunk_raw = chunk_raw_size(chunk_height)
        self._pending = bytearray()
        self._roots: list[bytes] = []
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._pending += data
        self.size += len(data)
        while len(self._pending) >= self._chunk_raw:
            self._roots.append(chunk_root(self._pending[: self._chunk_raw], self._chunk_height))
            del self._pending[: self._chunk_raw]

    def piece_cid(self) -> PieceCid:
        height, padding = tree_shape(self.size)
        if height <= self._chunk_height and not self._roots:
            return PieceCid(chunk_root(self._pending, height), height, padding)
        roots = self._roots + ([chunk_root(self._pending, self._chunk_height)] if self._pending else [])
        return piece_cid_from_chunk_roots(roots, self.size, self._chunk_height)


def commp_of_file(path: str | Path) -> PieceCid:
    """The PieceCID of a file, read in large blocks."""
    hasher = CommP()
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BYTES):
            hasher.update(block)
    return hasher.piece_cid()


def commp_of_bytes(data: bytes) -> PieceCid:
    hasher = CommP()
    hasher.update(data)
    return hasher.piece_cid()
