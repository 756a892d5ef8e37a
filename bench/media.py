"""The benchmark's piece: a real MP4 of a chosen size, made once by ``resources/make_demo.py --large`` and cached
outside the repository.

Why a real MP4 even for byte-level scenarios: one file for every scenario keeps "same file" literally true, and
the frame-level scenarios need something ``QMediaPlayer`` can decode. make_demo's large piece is a constant
8 Mbit/s 720p H.264/AAC clock video with its index first, so its size is chosen exactly and a seek that lands
anywhere but its target shows. The emulator serves a whole folder, so each piece lives alone in its own.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.procs import REPO_ROOT, python_script
from proxy.commp import commp_of_file
from proxy.emulator import remember_piece_cid
from proxy.media import sniff_layout

#: Where generated pieces are kept between runs (never committed). ``PIECEPLAYER_BENCH_CACHE`` overrides it.
DEFAULT_CACHE = Path(os.environ.get("PIECEPLAYER_BENCH_CACHE", "/tmp/pieceplayer-bench"))
MAKE_DEMO = REPO_ROOT / "resources" / "make_demo.py"
_INFO_NAME = ".piece.json"  # hidden: the emulator serves every other file in the folder
_MOOV_INFO_NAME = ".moov-at-end.json"
WARMUP_NAME = "warmup.bin"
WARMUP_BYTES = 1 << 20


@dataclass(frozen=True)
class Piece:
    path: Path
    size: int
    cid: str
    duration_s: float
    description: str
    #: A small second piece in the same folder, read once by every freshly started contender so that what a
    #: cold start measures is a piece nobody cached, not a process doing its first request ever.
    warmup_cid: str

    @property
    def byte_rate(self) -> float:
        """The media's average bytes per second: what a player reads once its buffer is full."""
        return self.size / self.duration_s if self.duration_s else float(self.size)

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
        del data["warmup_cid"]
        return data


def ensure_piece(mib: int, cache: Path = DEFAULT_CACHE) -> Piece:
    """The cached ``mib`` MiB piece if it is there and intact; otherwise make it (minutes for 1 GiB)."""
    folder = cache / f"piece-{mib}MiB"
    info_path = folder / _INFO_NAME
    if info_path.exists():
        piece = _from_json(json.loads(info_path.read_text()))
        if piece.path.exists() and piece.path.stat().st_size == piece.size:
            return piece
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / f"bench-{mib}MiB.mp4"
    made = subprocess.run(
        python_script(MAKE_DEMO, "--large", str(path), "--large-mib", str(mib)),
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise RuntimeError(f"resources/make_demo.py could not make the benchmark piece:\n{made.stderr.strip()}")
    entry = json.loads(made.stdout)
    piece = Piece(
        path=path,
        size=entry["size"],
        cid=entry["piece_cid"],
        duration_s=entry["duration_s"],
        description=(
            f"real MP4 from `resources/make_demo.py --large` ({entry['codec']}, {entry['width']}×{entry['height']}, "
            f"constant 8 Mbit/s, index first), {entry['duration_s']:.0f} s, {entry['size']} bytes"
        ),
        warmup_cid=_warmup_cid(folder),
    )
    info_path.write_text(json.dumps(piece.as_json(), indent=1))
    return piece


def _from_json(data: dict) -> Piece:
    path = Path(data["path"])
    return Piece(path, data["size"], data["cid"], data["duration_s"], data["description"], _warmup_cid(path.parent))


def _warmup_cid(folder: Path) -> str:
    """The warm-up piece's CID, writing the piece first if it is missing (1 MiB: milliseconds to hash)."""
    warmup = folder / WARMUP_NAME
    if not warmup.exists() or warmup.stat().st_size != WARMUP_BYTES:
        warmup.write_bytes(random.Random(WARMUP_NAME).randbytes(WARMUP_BYTES))
    return commp_of_file(warmup).v2()


def ensure_moov_at_end(piece: Piece) -> Piece:
    """The same media remuxed with its ``moov`` after ``mdat`` (what FFmpeg writes without ``+faststart``), in the
    same folder so the one origin serves both. Players open it with three requests: start, tail, start again."""
    path = piece.folder / f"{piece.path.stem}-moov-at-end.mp4"
    info_path = piece.folder / _MOOV_INFO_NAME
    if info_path.exists() and path.exists():
        cached = _from_json(json.loads(info_path.read_text()))
        if cached.path == path and path.stat().st_size == cached.size:
            return cached
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(piece.path), "-map", "0", "-c", "copy", str(path)],
        check=True,
    )
    with open(path, "rb") as handle:
        layout = sniff_layout(handle.read(1 << 20), path.stat().st_size)
    if not layout.prefetch:
        raise RuntimeError(f"ffmpeg put the index of {path} at the front: {layout.reason}")
    cid = commp_of_file(path).v2()
    remember_piece_cid(path, cid)
    moved = Piece(
        path=path,
        size=path.stat().st_size,
        cid=cid,
        duration_s=piece.duration_s,
        description=piece.description.replace("index first", "index last"),
        warmup_cid=piece.warmup_cid,
    )
    info_path.write_text(json.dumps(moved.as_json(), indent=1))
    return moved
