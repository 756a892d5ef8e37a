"""EBML primitives (RFC 8794): variable-size integers, element headers and children, bounds-checked.

Element IDs keep their length-marker bits, as the Matroska specification writes them (Segment is
``0x18538067``); data sizes have the marker removed. An all-ones size means *unknown size* (RFC 8794 §6.2), used
by live Segments and Clusters; it is reported as ``None``. Matroska limits IDs to 4 octets (EBMLMaxIDLength) and
sizes to 8 (EBMLMaxSizeLength), and so do we.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from proxy.media.errors import ContainerError, TruncatedError

#: The first four bytes of every EBML document (Matroska, WebM): the EBML header's ID.
EBML_MAGIC = b"\x1a\x45\xdf\xa3"

MAX_ID_LENGTH = 4
MAX_SIZE_LENGTH = 8
#: The longest element header: a 4-octet ID and an 8-octet size.
MAX_HEADER = MAX_ID_LENGTH + MAX_SIZE_LENGTH


@dataclass(frozen=True, slots=True)
class Element:
    """One element's header: ``id`` (with marker bits), where it starts, its header length and data size."""

    id: int
    start: int
    header: int
    size: int | None

    @property
    def data_start(self) -> int:
        return self.start + self.header

    @property
    def end(self) -> int | None:
        """One past the element's last byte, or None for an unknown-size element."""
        return None if self.size is None else self.data_start + self.size


def _vint_length(first: int, at: int, limit: int, what: str) -> int:
    length = 9 - first.bit_length() if first else 9
    if length > limit:
        raise ContainerError(f"invalid EBML {what} at byte {at}: first octet 0x{first:02x} (longer than {limit})")
    return length


def read_element(data: bytes | memoryview, pos: int, base: int = 0) -> Element:
    """The element header at ``data[pos]``; ``base`` is the absolute offset of ``data[0]`` (for positions/errors).

    Raises :class:`TruncatedError` when the header does not fit in ``data``, :class:`ContainerError` when it is
    invalid (an ID or size longer than Matroska allows, an ID written with more octets than it needs).
    """
    at = base + pos
    if pos >= len(data):
        raise TruncatedError(f"EBML element header at byte {at} is past the data", base + pos + MAX_HEADER)
    id_length = _vint_length(data[pos], at, MAX_ID_LENGTH, "element ID")
    size_at = pos + id_length
    if size_at >= len(data):
        raise TruncatedError(f"EBML element header at byte {at} is cut off", base + size_at + MAX_SIZE_LENGTH)
    size_length = _vint_length(data[size_at], at, MAX_SIZE_LENGTH, "element size")
    end = size_at + size_length
    if end > len(data):
        raise TruncatedError(f"EBML element header at byte {at} is cut off", base + end)
    element_id = int.from_bytes(data[pos:size_at], "big")
    marker = 1 << (7 * size_length)
    size = int.from_bytes(data[size_at:end], "big") & (marker - 1)
    id_marker = 1 << (7 * id_length)
    if element_id & (id_marker - 1) in (0, id_marker - 1):
        raise ContainerError(f"invalid EBML element ID 0x{element_id:x} at byte {at} (reserved value)")
    return Element(element_id, at, end - pos, None if size == marker - 1 else size)


def children(data: bytes | memoryview, start: int, end: int, base: int = 0) -> Iterator[Element]:
    """The child elements of a master element whose data is ``data[start:end]``, each checked to fit inside it."""
    pos = start
    while pos < end:
        element = read_element(data, pos, base)
        if element.size is None:
            raise ContainerError(f"element 0x{element.id:x} at byte {element.start} has an unknown size here")
        if element.data_start + element.size > base + end:
            raise TruncatedError(
                f"element 0x{element.id:x} at byte {element.start} ({element.size} bytes) overruns its parent",
                element.data_start + element.size,
            )
        yield element
        pos = element.data_start - base + element.size


def read_uint(data: bytes | memoryview, element: Element, base: int = 0) -> int:
    """An unsigned integer element (0–8 octets, big-endian; zero octets mean 0)."""
    if element.size is None or element.size > 8:
        raise ContainerError(f"unsigned integer element 0x{element.id:x} at byte {element.start} is too long")
    start = element.data_start - base
    return int.from_bytes(data[start : start + element.size], "big")


def read_float(data: bytes | memoryview, element: Element, base: int = 0) -> float:
    """A float element: 0 octets (0.0), 4 (binary32) or 8 (binary64), big-endian."""
    start = element.data_start - base
    if element.size == 0:
        return 0.0
    if element.size == 4:
        return struct.unpack_from(">f", data, start)[0]
    if element.size == 8:
        return struct.unpack_from(">d", data, start)[0]
    raise ContainerError(f"float element 0x{element.id:x} at byte {element.start} has {element.size} octets")


def raw_children(raw: bytes, pos: int, end: int, base: int, where: str) -> Iterator[tuple[int, int, int]]:
    """(ID, data start, data stop) of the elements in ``raw[pos:end]``, each checked to fit inside it.

    The same walk as :func:`children` with plain integers instead of :class:`Element` objects (ten times
    faster), for tables of thousands of entries (Cues, a SeekHead). ``base`` and ``where`` place errors.
    """
    while pos < end:
        first = raw[pos]
        id_length = 9 - first.bit_length()
        size_at = pos + id_length
        if id_length > MAX_ID_LENGTH or size_at >= end:
            raise ContainerError(f"invalid or cut element header at byte {base + pos} in {where}")
        first = raw[size_at]
        size_length = 9 - first.bit_length()
        data_at = size_at + size_length
        if size_length > MAX_SIZE_LENGTH or data_at > end:
            raise ContainerError(f"invalid or cut element size at byte {base + size_at} in {where}")
        size = int.from_bytes(raw[size_at:data_at], "big") & ((1 << (7 * size_length)) - 1)
        stop = data_at + size
        if stop > end:
            raise ContainerError(f"element at byte {base + pos} ({size} bytes) overruns its parent in {where}")
        yield int.from_bytes(raw[pos:size_at], "big"), data_at, stop
        pos = stop


def raw_uint(raw: bytes, start: int, stop: int) -> int:
    """An unsigned integer element's value from its data ``raw[start:stop]`` (at most 8 octets)."""
    if stop - start > 8:
        raise ContainerError(f"an unsigned integer element has {stop - start} octets")
    return int.from_bytes(raw[start:stop], "big")
