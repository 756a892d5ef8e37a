"""ISO base media file format boxes (ISO/IEC 14496-12 §4.2): headers and children, bounds-checked.

A box is ``size`` (32-bit, big-endian) and ``type`` (four characters); ``size == 1`` means a 64-bit
``largesize`` follows the type, ``size == 0`` means the box runs to the end of its container (the file, for a
top-level box). A ``uuid`` box's extended type is part of its body here: nothing we read is a ``uuid`` box.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from proxy.media.errors import ContainerError, TruncatedError

_HEADER = struct.Struct(">I4s")
_LARGESIZE = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class Box:
    """One box: its four-character ``type``, where it starts, its header length (8 or 16) and where it ends."""

    type: bytes
    start: int
    header: int
    end: int

    @property
    def body_start(self) -> int:
        return self.start + self.header

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")


def read_box(data: bytes | memoryview, pos: int, container_end: int, base: int = 0) -> Box:
    """The box header at ``data[pos]`` inside a container ending at ``container_end`` (buffer coordinates).

    ``base`` is the absolute offset of ``data[0]``: the returned box and every message use absolute offsets.
    Raises :class:`TruncatedError` if the header is not all in ``data``, :class:`ContainerError` if the box
    declares fewer bytes than its header or more than its container holds.
    """
    at = base + pos
    if pos + _HEADER.size > len(data):
        raise TruncatedError(f"box header at byte {at} is cut off", at + 16)
    size, box_type = _HEADER.unpack_from(data, pos)
    header = _HEADER.size
    if size == 1:
        if pos + 16 > len(data):
            raise TruncatedError(f"64-bit box header at byte {at} is cut off", at + 16)
        size = _LARGESIZE.unpack_from(data, pos + 8)[0]
        header = 16
    elif size == 0:
        size = container_end - pos
    name = box_type.decode("latin-1")
    if size < header:
        raise ContainerError(f"box {name!r} at byte {at} declares {size} bytes, less than its own header")
    if pos + size > container_end:
        raise ContainerError(
            f"box {name!r} at byte {at} declares {size} bytes, past the end of its container "
            f"(byte {base + container_end})"
        )
    return Box(box_type, at, header, at + size)


def children(data: bytes | memoryview, start: int, end: int, base: int = 0) -> Iterator[Box]:
    """The boxes in ``data[start:end]`` (the body of a container box), each wholly inside it."""
    pos = start
    while pos + _HEADER.size <= end:
        box = read_box(data, pos, end, base)
        yield box
        pos = box.end - base


def first_child(data: bytes | memoryview, parent: Box, box_type: bytes, base: int = 0) -> Box | None:
    """The first child of ``parent`` of type ``box_type``, or None."""
    boxes = children(data, parent.body_start - base, parent.end - base, base)
    return next((box for box in boxes if box.type == box_type), None)


def find_path(data: bytes | memoryview, parent: Box, path: tuple[bytes, ...], base: int = 0) -> Box | None:
    """The box at ``parent/path[0]/path[1]/…`` (first match at each level), or None."""
    box: Box | None = parent
    for box_type in path:
        if box is None:
            return None
        box = first_child(data, box, box_type, base)
    return box


def full_box(data: bytes | memoryview, box: Box, base: int = 0) -> tuple[int, int, int]:
    """A FullBox's (version, flags, offset of the fields after them) — ISO/IEC 14496-12 §4.2.2."""
    pos = box.body_start - base
    if pos + 4 > box.end - base:
        raise ContainerError(f"box {box.name!r} at byte {box.start} is too short for a version and flags")
    word = int.from_bytes(data[pos : pos + 4], "big")
    return word >> 24, word & 0xFFFFFF, pos + 4
