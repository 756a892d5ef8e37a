"""Small builders for hand-made MP4 and Matroska pieces: the crafted files of issue 23, made in code.

Independent of the parsers under test (plain ``struct`` packing, per ISO/IEC 14496-12 and RFC 8794/9559), so a
parser bug cannot hide in a shared helper.
"""

from __future__ import annotations

import struct


def box(box_type: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), box_type) + body


def full_box(box_type: bytes, body: bytes, version: int = 0) -> bytes:
    return box(box_type, struct.pack(">I", version << 24), body)


def table(box_type: bytes, rows: list[tuple[int, ...]]) -> bytes:
    """A FullBox table: entry_count then the rows as big-endian u32."""
    return full_box(box_type, struct.pack(">I", len(rows)) + b"".join(struct.pack(f">{len(r)}I", *r) for r in rows))


FTYP = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2")


def trak(track_id: int, samples: int, chunk_offset: int, handler: bytes = b"vide", sample_size: int = 1) -> bytes:
    """One track whose ``stsc`` puts ``samples`` constant-size samples in one chunk, with an ``stss`` box."""
    tkhd = full_box(b"tkhd", struct.pack(">IIIII", 0, 0, track_id, 0, 1000) + b"\0" * 60)
    mdhd = full_box(b"mdhd", struct.pack(">IIIIHH", 0, 0, 1000, samples, 0x55C4, 0))
    hdlr = full_box(b"hdlr", struct.pack(">I4s12s", 0, handler, b"") + b"x\0")
    stbl = box(
        b"stbl",
        table(b"stts", [(samples, 1)]),
        table(b"stss", [(1,)]),
        table(b"stsc", [(1, samples, 1)]),
        full_box(b"stsz", struct.pack(">II", sample_size, samples)),
        table(b"stco", [(chunk_offset,)]),
    )
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", stbl)))


def mp4_claiming_samples(samples: int, tracks: int = 1, media_bytes: int | None = None) -> bytes:
    """A faststart MP4 whose tiny ``moov`` claims ``samples`` one-byte samples per track (issue 23, item 2).

    The ``mdat`` holds enough bytes for the claim to fit the piece (``media_bytes``, default ``samples``).
    """
    mvhd = full_box(b"mvhd", struct.pack(">IIII", 0, 0, 1000, samples) + b"\0" * 80)

    def moov(offset: int) -> bytes:
        return box(b"moov", mvhd, *(trak(i + 1, samples, offset) for i in range(tracks)))

    header = len(FTYP) + len(moov(0)) + 8
    media = samples if media_bytes is None else media_bytes
    return FTYP + moov(header) + struct.pack(">I4s", 8 + media, b"mdat") + bytes(media)


# --- EBML / Matroska ---------------------------------------------------------------------------------------


def ebml_size(n: int, length: int = 0) -> bytes:
    """A data size as an EBML variable-size integer, in ``length`` octets (the shortest when 0)."""
    length = length or next(k for k in range(1, 9) if n < (1 << (7 * k)) - 1)
    return (n | (1 << (7 * length))).to_bytes(length, "big")


def element(element_id: int, body: bytes, size_length: int = 0) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + ebml_size(len(body), size_length) + body


def uint(element_id: int, value: int) -> bytes:
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


EBML_HEADER = element(0x1A45DFA3, element(0x4282, b"webm"))
SEGMENT, SEEK_HEAD, SEEK, SEEK_ID, SEEK_POSITION = 0x18538067, 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
INFO, TIMESTAMP_SCALE, DURATION, CLUSTER = 0x1549A966, 0x2AD7B1, 0x4489, 0x1F43B675
TAGS, CUES, CHAPTERS, ATTACHMENTS = 0x1254C367, 0x1C53BB6B, 0x1043A770, 0x1941A469


def seek(element_id: int, position: int) -> bytes:
    return element(SEEK, element(SEEK_ID, element_id.to_bytes(4, "big")) + uint(SEEK_POSITION, position))


def matroska_with_seek_head(entries: list[tuple[int, int]], size: int) -> bytes:
    """A WebM piece of ``size`` bytes: a SeekHead with ``entries`` (element ID, position from the Segment's data
    start), an Info, a Cluster header, and zeros to the end (issue 23, item 3)."""
    seek_head = element(SEEK_HEAD, b"".join(seek(i, p) for i, p in entries))
    info = element(INFO, uint(TIMESTAMP_SCALE, 1_000_000) + element(DURATION, struct.pack(">d", 60_000.0)))
    segment = SEGMENT.to_bytes(4, "big") + ebml_size(size - len(EBML_HEADER) - 12, 8)
    head = EBML_HEADER + segment + seek_head + info
    cluster = CLUSTER.to_bytes(4, "big") + ebml_size(size - len(head) - 12, 8)
    data = head + cluster
    return data + bytes(size - len(data))
