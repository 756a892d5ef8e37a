"""The benchmark's piece: a real MP4 of a chosen size, generated once and cached outside the repository.

Why a real MP4 even for byte-level scenarios: one file for every scenario keeps "same file" literally true, and
the frame-level scenarios need something ``QMediaPlayer`` can decode. A short H.264/AAC clip from ffmpeg's test
sources is encoded once, then repeated with ``-stream_loop`` and ``-c copy`` (no re-encoding, so a 1 GiB file
takes seconds of disk time) with ``+faststart`` so the index sits at the front as it does in streamable media.
The emulator serves the folder, so each piece lives alone in its own folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from proxy.emulator import load_pieces

#: Where generated pieces are kept between runs (never committed). ``PIECEPLAYER_BENCH_CACHE`` overrides it.
DEFAULT_CACHE = Path(os.environ.get("PIECEPLAYER_BENCH_CACHE", "/tmp/pieceplayer-bench"))
_INFO_NAME = ".piece.json"  # hidden: the emulator serves every other file in the folder


@dataclass(frozen=True)
class ClipRecipe:
    """The short clip that is looped; its bitrate decides how many seconds of video the piece holds."""

    seconds: int
    size: str
    video_bitrate: str


@dataclass(frozen=True)
class Piece:
    path: Path
    size: int
    cid: str
    duration_s: float
    description: str

    @property
    def folder(self) -> Path:
        return self.path.parent

    def read(self, offset: int, length: int) -> bytes:
        """Bytes of the file itself, to check that what a contender served is right."""
        with open(self.path, "rb") as handle:
            return os.pread(handle.fileno(), length, offset)

    def as_json(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def ensure_piece(name: str, target_bytes: int, recipe: ClipRecipe, cache: Path = DEFAULT_CACHE) -> Piece:
    """The cached piece ``name`` if it is already there and at least ``target_bytes``; otherwise make it."""
    folder = cache / name
    info_path = folder / _INFO_NAME
    if info_path.exists():
        info = json.loads(info_path.read_text())
        path = Path(info["path"])
        if path.exists() and path.stat().st_size == info["size"] and info["size"] >= target_bytes:
            return Piece(path, info["size"], info["cid"], info["duration_s"], info["description"])
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise RuntimeError("the benchmark makes its piece with ffmpeg and ffprobe; install ffmpeg first")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    work = cache / f".{name}-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clip = _encode_clip(work / "clip.mp4", recipe)
    loops = math.ceil(target_bytes / clip.stat().st_size) + 1  # +1: the loop's container overhead differs a bit
    path = folder / f"{name}.mp4"
    _ffmpeg(
        "-stream_loop", str(loops - 1), "-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(path),
    )  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    size = path.stat().st_size
    pieces = load_pieces(folder)  # computes the PieceCID once and caches it next to the file
    cid = next(p.v2 for p in pieces.values() if p.path == path)
    duration = _duration(path)
    description = (
        f"real MP4 (H.264 {recipe.size} {recipe.video_bitrate}b/s + AAC, ffmpeg testsrc2 clip of {recipe.seconds} s "
        f"looped {loops}× with -c copy, +faststart), {duration:.0f} s, {size} bytes"
    )
    piece = Piece(path, size, cid, duration, description)
    info_path.write_text(json.dumps(piece.as_json(), indent=1))
    return piece


def _encode_clip(path: Path, recipe: ClipRecipe) -> Path:
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={recipe.size}:rate=30:duration={recipe.seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={recipe.seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", recipe.video_bitrate, "-maxrate", recipe.video_bitrate,
        "-bufsize", recipe.video_bitrate, "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", str(path),
    )  # fmt: skip
    return path


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-nostdin", "-y", *args], check=True)
