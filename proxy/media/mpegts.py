"""MPEG-TS (ISO/IEC 13818-1): no index to read, but a clock in the stream gives its byte rate.

A transport stream is 188-byte packets, each starting with the sync byte 0x47. It has no seek index: players
seek by bisecting on timestamps. What the proxy needs from it is a byte rate, so that read-ahead holds a few
seconds of media and the GUI can place time on the piece's bytes. The program clock reference (PCR, 27 MHz, in
the adaptation field of packets of one PID) is written at least every 100 ms: two PCRs of the same PID far apart
in the head, divided into the bytes between them, give the rate; PES presentation timestamps (90 kHz) stand in
when no packet carries a PCR. Timestamps that do not start at zero (a cut broadcast starts at hours) do not
matter: only differences are used, and a clock that wraps or jumps between the two gives no estimate.
"""

from __future__ import annotations

from proxy.media.errors import ContainerError
from proxy.media.layout import ContainerKind, ContainerLayout

PACKET = 188
SYNC = 0x47
#: Packets that must start with the sync byte before bytes are taken for a transport stream.
_SYNC_CHECKED = 4
#: Packets read from the head (4 MiB): the estimate needs only two clock values far apart.
MAX_PACKETS = (4 << 20) // PACKET
#: Two clock values this close (seconds) give too rough a rate to use.
_MIN_SPAN_S = 0.2
#: A jump larger than this between the two clock values is a discontinuity, not playback.
_MAX_SPAN_S = 3600.0


def looks_like_ts(head: bytes | memoryview) -> bool:
    """The head starts with packets in sync (as many as it holds, up to four)."""
    packets = min(_SYNC_CHECKED, len(head) // PACKET)
    return packets >= 1 and all(head[i * PACKET] == SYNC for i in range(packets))


def byte_rate(head: bytes | memoryview) -> float:
    """Bytes per second of the stream in ``head``, from its PCR (else PTS) values; :class:`ContainerError` if none."""
    first: dict[tuple[str, int], tuple[int, int]] = {}
    last: dict[tuple[str, int], tuple[int, int]] = {}
    for number in range(min(len(head) // PACKET, MAX_PACKETS)):
        at = number * PACKET
        packet = bytes(head[at : at + PACKET])
        if packet[0] != SYNC:
            break  # out of sync: what follows is not read
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        for kind, ticks in (("pcr", _pcr(packet)), ("pts", _pts(packet))):
            if ticks is not None:
                first.setdefault((kind, pid), (at, ticks))
                last[(kind, pid)] = (at, ticks)
    for kind, hertz in (("pcr", 27_000_000), ("pts", 90_000)):
        rates = []
        for key, (start, ticks) in first.items():
            if key[0] != kind:
                continue
            end, end_ticks = last[key]
            seconds = (end_ticks - ticks) / hertz
            if _MIN_SPAN_S <= seconds <= _MAX_SPAN_S and end > start:
                rates.append((seconds, (end - start) / seconds))
        if rates:
            return max(rates)[1]  # the longest span measures best
    raise ContainerError("no two clock values (PCR or PTS) far enough apart in the head to estimate a byte rate")


def _pcr(packet: bytes) -> int | None:
    """The packet's PCR in 27 MHz ticks, or None."""
    if not packet[3] & 0x20 or packet[4] < 7 or not packet[5] & 0x10:
        return None
    b = packet[6:12]
    base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
    return base * 300 + (((b[4] & 1) << 8) | b[5])


def _pts(packet: bytes) -> int | None:
    """The PTS (90 kHz) of a PES packet starting in this packet, or None."""
    if not packet[1] & 0x40 or not packet[3] & 0x10:
        return None
    start = 4 + (1 + packet[4] if packet[3] & 0x20 else 0)
    pes = packet[start : start + 14]
    if len(pes) < 14 or pes[:3] != b"\x00\x00\x01" or not pes[7] & 0x80:
        return None
    p = pes[9:14]
    return ((p[0] >> 1) & 7) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | p[4] >> 1


def sniff_ts_layout(head: bytes | memoryview, size: int) -> ContainerLayout:
    """The layout of a transport stream: no index, and the duration its byte rate gives (when the head shows one)."""
    try:
        rate = byte_rate(head)
    except ContainerError as error:
        return ContainerLayout(ContainerKind.MPEGTS, f"MPEG-TS without an index; {error}")
    reason = f"MPEG-TS without an index: about {rate / 1000:.0f} kB/s by its clock, so about {size / rate:.1f} s"
    return ContainerLayout(ContainerKind.MPEGTS, reason, duration_s=size / rate)
