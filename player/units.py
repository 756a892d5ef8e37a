"""How numbers read in the UI: bytes in binary units, media time as m:ss, durations in ms or s."""

from __future__ import annotations


def format_bytes(n: int | float | None) -> str:
    """Binary units, about three significant digits: ``15.1 MiB``."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.3g} TiB" if abs(value) < 100 else f"{value:.0f} TiB"


def format_clock(ms: int | float | None) -> str:
    """Media time: ``1:05`` or ``1:02:05``; ``--:--`` when unknown."""
    if ms is None or ms < 0:
        return "--:--"
    seconds = int(ms // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_duration(seconds: float | None) -> str:
    """Elapsed time: ``38 ms``, ``1.24 s``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def format_offset(seconds: float) -> str:
    """Seconds since an open in at most five characters (``0.17``, ``22.30``, ``384.1``, ``1234``), so the request
    log's narrow "At" column never cuts a late request's time to "384.…"."""
    if seconds < 100:
        return f"{seconds:.2f}"
    if seconds < 1000:
        return f"{seconds:.1f}"
    return f"{seconds:.0f}"


def format_rate(bytes_per_s: float) -> str:
    return f"{format_bytes(bytes_per_s)}/s"


def parse_clock(text: str) -> float:
    """``"12:34"`` → 754 000 ms; also ``1:02:03``, ``95`` (seconds) and ``95.5``. Raises ValueError in words."""
    parts = text.strip().split(":")
    if not text.strip() or len(parts) > 3:
        raise ValueError(f"“{text.strip()}” is not a time: write it like 12:34 or 1:02:03")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"“{text.strip()}” is not a time: write it like 12:34 or 1:02:03") from None
    if any(n < 0 for n in numbers) or any(n >= 60 for n in numbers[1:]):
        raise ValueError(f"“{text.strip()}” is not a time: minutes and seconds go from 0 to 59")
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds * 1000
