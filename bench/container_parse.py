"""How long the proxy spends understanding a long piece: layout sniffing, index building, and map queries.

Goal (issue 10): parsing the ``moov`` of a feature-length MP4 (hundreds of thousands of samples) takes well under
100 ms, so the proxy can build the map while the player is still opening the file.

The long media is made without encoding for an hour: ffmpeg encodes a few seconds once (a keyframe every second)
and then remuxes it ``--loops`` times with ``-c copy``, which writes a real ``moov`` with one ``stts``/``stsz``/
``stco`` entry per sample, exactly as a long recording would have. Usage::

    python -m bench.container_parse [--loops 900] [--keep DIR] [--no-generate] [FILE …]

FILE arguments (any MP4/MOV/MKV/WebM) are measured as well, instead of or next to the generated ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proxy.media import build_index, sniff_layout

HEAD = 1 << 20


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def make_long_media(folder: Path, loops: int) -> list[Path]:
    clip = folder / "clip.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
        "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", str(clip),
    )  # fmt: skip
    made = []
    for name, flags in (("long-faststart.mp4", ["-movflags", "+faststart"]), ("long-moov-at-end.mp4", [])):
        out = folder / name
        _ffmpeg("-stream_loop", str(loops - 1), "-i", str(clip), "-c", "copy", *flags, str(out))
        made.append(out)
    webm_clip = folder / "clip.webm"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
        "-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8", "-g", "25", str(webm_clip),
    )  # fmt: skip
    long_webm = folder / "long.webm"
    _ffmpeg("-stream_loop", str(loops - 1), "-i", str(webm_clip), "-c", "copy", str(long_webm))
    made.append(long_webm)
    return made


def _best_ms(fn, repeat: int) -> tuple[float, float]:
    """(best, median) wall time in milliseconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def measure(path: Path, repeat: int) -> dict:
    data = path.read_bytes()
    head = data[:HEAD]
    layout = sniff_layout(head, len(data))
    result = {"file": path.name, "size": len(data), "layout": layout.reason}
    result["sniff_ms"] = round(_best_ms(lambda: sniff_layout(head, len(data)), repeat)[1], 3)
    if layout.index is None:
        return result
    index_bytes = data[layout.index.start : layout.index.stop]

    def build():
        return build_index(head, len(data), index_bytes, layout.index.start)

    index = build()
    best, median = _best_ms(build, repeat)
    units = len(index.primary) + sum(len(t) for t in index.secondary)
    cached = [(i * len(data) // 40, i * len(data) // 40 + len(data) // 100) for i in range(40)]
    result |= {
        "index_bytes": len(index_bytes),
        "units": units,
        "keyframes": len(index.keyframes()),
        "duration_s": round(index.duration_s, 3),
        "build_ms_best": round(best, 2),
        "build_ms_median": round(median, 2),
        "time_ranges_ms": round(_best_ms(lambda: index.time_ranges(cached), repeat)[1], 3),
        "byte_at_us": round(_best_ms(lambda: index.byte_at(index.duration_s / 3), repeat)[1] * 1000, 1),
        "seek_range_us": round(_best_ms(lambda: index.seek_range(index.duration_s / 2, 5.0), repeat)[1] * 1000, 1),
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--loops", type=int, default=900, help="4-second clip repeats (900 = one hour)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="make the long media in this folder and keep it")
    parser.add_argument("--no-generate", action="store_true", help="measure only the FILE arguments")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [] if args.no_generate else make_long_media(folder, args.loops)
        for path in [*paths, *args.files]:
            print(json.dumps(measure(path, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
