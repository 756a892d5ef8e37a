"""A damaged piece: its header promises more media than its bytes hold. Where it ends, and the words for it.

A cut upload keeps its whole index (an MP4 ``moov`` at the front, Matroska Cues) while its data stops early, so
Qt believes the header's duration and, asked to seek past the data, waits for bytes that will never come. The
proxy's byte ↔ time map knows better: ``MediaIndexed.ends_early_s`` is the time of the first sample whose bytes
are not in the piece. :class:`Playback` refuses seeks past it at once with :func:`refused_text`; the window shows
:func:`ends_early_text` and a mark on the seek bar; the self-test records such a seek as ``nothing_there``.
"""

from __future__ import annotations

from player.units import format_clock

#: Qt fails (FFmpeg: "Invalid data found") when playback reaches the missing data, about this close to where it
#: stops; such a failure is the piece's end, and playback is held just this much before it.
DATA_END_SLACK_MS = 1000.0


def _clock(seconds: float) -> str:
    """``0:04.8``: a tenth of a second matters for where a short piece stops."""
    tenths = round(max(0.0, seconds) * 10)
    return f"{format_clock(tenths // 10 * 1000)}.{tenths % 10}"


def ends_early_text(end_s: float, duration_s: float | None) -> str:
    """What the window says once it knows where the piece's data stops."""
    promised = f" of the {format_clock(duration_s * 1000.0)} its header promises" if duration_s else ""
    return (
        f"The piece ends early, at {_clock(end_s)}{promised}: the rest of its data is missing "
        "(a cut or damaged upload). Seeks past that point are refused."
    )


def refused_text(target_s: float, end_s: float) -> str:
    """Why a seek past the data was not made."""
    return f"Nothing to play at {_clock(target_s)}: the piece ends early, at {_clock(end_s)} (its data stops there)"


def stopped_text(end_s: float) -> str:
    """Why playback stopped (and was held just before the end) when it reached the missing data."""
    return f"Playback stopped at {_clock(end_s)}, where the piece's data ends (a cut or damaged upload)"


def refused_seek_result(target_s: float, end_s: float) -> dict:
    """The self-test's record of a seek refused because the piece ends before it."""
    return {
        "target_s": target_s,
        "latency_ms": None,
        "cached": True,
        "nothing_there": True,
        "ends_early_s": round(end_s, 3),
    }
