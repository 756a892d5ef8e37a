"""Make the demo pieces in ``resources/demo/`` from ffmpeg's own sources, and their manifest.

Why generated and not downloaded: nothing unlicensed ships, and anyone can rebuild the files bit for bit with the
same ffmpeg. Every frame shows a running clock (HH:MM:SS.mmm from the frame's own timestamp) and a frame counter,
a box sweeps across every ten seconds and a bar fills over the whole piece, and a tone beeps on every second, so
a seek that lands anywhere but its target is plain to see and hear.

The pieces: a ~60 s 720p H.264/AAC MP4 with the index (``moov``) first, the very same samples with the index at
the end (players need three requests to open it: the case that exposes range-proxy mistakes), and a 480p
VP9/Opus WebM. A flat background and large text keep them to a few MB each. ``--large PATH`` makes a 1–2 GB MP4
for benchmarks instead (constant 8 Mbit/s, never committed).

The manifest (``manifest.json``) names each file's PieceCID (v2 and v1), size, SHA-256, duration, codecs,
dimensions and index position; the first entry is the default demo piece. The emulator reads it, so serving the
demo folder starts without hashing.

    python resources/make_demo.py [--out resources/demo] [--seconds 60]
    python resources/make_demo.py --large /tmp/large.mp4 [--large-mib 1536]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Run as a script from anywhere: the repository root holds the ``proxy`` package this reuses for PieceCIDs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.commp import commp_of_file
from proxy.emulator import DEMO_MANIFEST_NAME, remember_piece_cid, sha256_of_file
from proxy.sniff import SNIFF_BYTES, sniff_content_type

DEFAULT_OUT = Path(__file__).resolve().parent / "demo"
DEFAULT_SECONDS = 60
DEFAULT_LARGE_MIB = 1536
#: drawtext needs a font file; DejaVu Sans Mono (Debian: fonts-dejavu-core) keeps the clock's digits from jumping.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),  # Debian, Ubuntu
    Path("/usr/share/fonts/TTF/DejaVuSansMono.ttf"),  # Arch
    Path("/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono.ttf"),  # Fedora
    Path("/usr/local/share/fonts/DejaVuSansMono.ttf"),
)
REQUIRED_ENCODERS = ("libx264", "aac", "libvpx-vp9", "libopus")
#: Characters that would need ffmpeg filtergraph escaping in a font path; refused rather than escaped wrongly.
_FILTER_SPECIAL = set("'\\:,;[]=%\n")
#: Output must not depend on when or where it was made: no encoder strings, no creation times, no metadata.
_BITEXACT = ("-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact")
_LARGE_VIDEO_BITRATE = 8_000_000
_LARGE_AUDIO_BITRATE = 128_000


class DemoError(RuntimeError):
    """Something the person running the script must fix; the message says what."""


@dataclass(frozen=True)
class Look:
    """Frame size, rate and colours of one clock video."""

    width: int
    height: int
    fps: int
    background: str
    label: str


MP4_LOOK = Look(1280, 720, 30, "0x1d2b3a", "PiecePlayer demo  H.264 + AAC  1280x720  30 fps")
WEBM_LOOK = Look(854, 480, 25, "0x2a1d3a", "PiecePlayer demo  VP9 + Opus  854x480  25 fps")


def find_font(explicit: Path | None = None) -> Path:
    """The font drawtext uses, or a DemoError that says which package to install."""
    candidates = (explicit,) if explicit else FONT_CANDIDATES
    for font in candidates:
        if font is not None and font.is_file():
            if _FILTER_SPECIAL & set(str(font)):
                raise DemoError(f"the font path {font} contains characters ffmpeg filters treat specially; copy it")
            return font
    if explicit:
        raise DemoError(f"the font file {explicit} does not exist")
    raise DemoError(
        "drawtext needs the DejaVu Sans Mono font, which is not installed: "
        "apt install fonts-dejavu-core (or pass --font PATH to a monospaced .ttf)"
    )


def check_ffmpeg() -> str:
    """ffmpeg's version, after checking it has every encoder and filter the demo needs."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise DemoError(f"{tool} is not installed: apt install ffmpeg")
    encoders = _run("ffmpeg", "-hide_banner", "-encoders")
    missing = [name for name in REQUIRED_ENCODERS if f" {name} " not in encoders]
    if missing:
        raise DemoError(f"this ffmpeg lacks the encoders {', '.join(missing)}; install Debian's ffmpeg package")
    if " drawtext " not in _run("ffmpeg", "-hide_banner", "-filters"):
        raise DemoError("this ffmpeg has no drawtext filter (built without libfreetype); install Debian's ffmpeg")
    first_line = _run("ffmpeg", "-hide_banner", "-version").splitlines()[0]
    return first_line.removeprefix("ffmpeg version ").split(" Copyright")[0].strip()


def clock_video(look: Look, seconds: float, font: Path) -> str:
    """A lavfi source graph: flat background, sweeping box, filling bar, clock, frame counter, label.

    The moving shapes are overlays, not drawbox: overlay evaluates its position for every frame, while this
    ffmpeg's drawbox evaluates it once.
    """
    w, h, fps = look.width, look.height, look.fps
    duration = f"{seconds:g}"
    unit = h / 720  # everything scales with the frame height
    box_w, box_h = round(120 * unit), round(40 * unit)
    bar_h = round(20 * unit)

    def source(colour: str, width: int, height: int) -> str:
        return f"color=c={colour}:s={width}x{height}:r={fps}:d={duration}"

    def text(value: str, size: float, colour: str, x: str, y: float) -> str:
        return (
            f"drawtext=fontfile={font}:text='{value}':fontsize={round(size * unit)}:fontcolor={colour}"
            f":x={x}:y={round(y * unit)}"
        )

    labels = ",".join(
        (
            text("%{pts\\:hms}", 140, "white", "(w-tw)/2", 200),
            text("frame %{frame_num}", 64, "0xc0d0e0", "(w-tw)/2", 420),
            text(look.label, 30, "0x8090a0", "40", 40),
        )
    )
    return ";".join(
        (
            f"{source(look.background, w, h)}[background]",
            f"{source('0xf0a030', box_w, box_h)}[box]",
            f"{source('0x40c080', w, bar_h)}[bar]",
            f"[background][box]overlay=x='(W-w)*mod(t\\,10)/10':y={round(560 * unit)}[swept]",
            f"[swept][bar]overlay=x='W*t/{duration}-W':y=H-h[filled]",
            f"[filled]{labels}[out0]",
        )
    )


def beeping_tone(seconds: float, frequency: int) -> str:
    """A quiet sine with a short beep on every second (audible A/V sync and seek check)."""
    return f"sine=frequency={frequency}:beep_factor=4:sample_rate=48000:duration={seconds:g}"


def encode_mp4_moov_at_end(path: Path, seconds: float, font: Path) -> None:
    """H.264 (keyframe every second, ~170–600 kbit/s) + AAC 64 kbit/s stereo; ffmpeg's default puts moov last."""
    _ffmpeg(
        "-f", "lavfi", "-i", clock_video(MP4_LOOK, seconds, font),
        "-f", "lavfi", "-i", beeping_tone(seconds, 660),
        "-c:v", "libx264", "-preset", "medium", "-crf", "28", "-maxrate", "600k", "-bufsize", "1200k",
        "-g", str(MP4_LOOK.fps), "-keyint_min", str(MP4_LOOK.fps), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-ac", "2",
        *_BITEXACT, str(path),
    )  # fmt: skip


def remux_faststart(source: Path, path: Path) -> None:
    """The same samples with the moov moved to the front (``-c copy``: nothing is encoded again)."""
    _ffmpeg("-i", str(source), "-map", "0", "-c", "copy", "-movflags", "+faststart", *_BITEXACT, str(path))


def encode_webm(path: Path, seconds: float, font: Path) -> None:
    """VP9 (constant quality, keyframe every 2 s) + Opus 48 kbit/s."""
    _ffmpeg(
        "-f", "lavfi", "-i", clock_video(WEBM_LOOK, seconds, font),
        "-f", "lavfi", "-i", beeping_tone(seconds, 550),
        "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "40", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1",
        "-g", str(2 * WEBM_LOOK.fps), "-pix_fmt", "yuv420p",
        "-c:a", "libopus", "-b:a", "48k", "-ac", "2",
        *_BITEXACT, str(path),
    )  # fmt: skip


def encode_large(path: Path, mib: int, font: Path) -> None:
    """A constant-bitrate 720p MP4 of about ``mib`` MiB: x264 pads every second to 8 Mbit/s with filler data,
    so the piece is big while the clock still runs true from start to end (ultrafast: minutes, not hours)."""
    seconds = round(mib * (1 << 20) * 8 / (_LARGE_VIDEO_BITRATE + _LARGE_AUDIO_BITRATE))
    look = Look(1280, 720, 30, "0x1d3a2b", "PiecePlayer benchmark piece  H.264 CBR 8 Mbit/s + AAC  1280x720")
    _ffmpeg(
        "-f", "lavfi", "-i", clock_video(look, seconds, font),
        "-f", "lavfi", "-i", beeping_tone(seconds, 660),
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", str(_LARGE_VIDEO_BITRATE),
        "-minrate", str(_LARGE_VIDEO_BITRATE), "-maxrate", str(_LARGE_VIDEO_BITRATE), "-bufsize", "4M",
        "-x264-params", "nal-hrd=cbr", "-g", str(2 * look.fps), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", str(_LARGE_AUDIO_BITRATE), "-ac", "2", "-movflags", "+faststart",
        *_BITEXACT, str(path),
    )  # fmt: skip


def probe(path: Path) -> dict:
    """Duration, codecs and frame size as ffprobe reads them."""
    out = _run(
        "ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,codec_name,width,height",
        "-of", "json", str(path),
    )  # fmt: skip
    info = json.loads(out)
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    return {
        "duration_s": round(float(info["format"]["duration"]), 3),
        "codec": f"{video.get('codec_name')}/{audio.get('codec_name')}",
        "width": video.get("width"),
        "height": video.get("height"),
    }


def mp4_moov_position(path: Path) -> str | None:
    """``"front"`` if the MP4 index precedes the media data, ``"end"`` if it follows, None if not an MP4."""
    order: list[bytes] = []
    size = path.stat().st_size
    with open(path, "rb") as handle:
        offset = 0
        while offset + 8 <= size:
            handle.seek(offset)
            header = handle.read(16)
            box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
            if box_size == 1:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or not box_type.isalnum():
                return None
            if box_type in (b"moov", b"mdat"):
                order.append(box_type)
            offset += box_size
    if b"moov" not in order or b"mdat" not in order:
        return None
    return "front" if order.index(b"moov") < order.index(b"mdat") else "end"


def manifest_entry(path: Path, title: str) -> dict:
    """Everything the player, the emulator and the tests need to know about one demo file."""
    cid = commp_of_file(path)
    with open(path, "rb") as handle:
        content_type = sniff_content_type(handle.read(SNIFF_BYTES))
    return {
        "file": path.name,
        "title": title,
        "piece_cid": cid.v2(),
        "piece_cid_v1": cid.v1(),
        "size": path.stat().st_size,
        "sha256": sha256_of_file(path),
        "content_type": content_type,
        **probe(path),
        "moov": mp4_moov_position(path),
    }


def make_demo(out: Path, seconds: float, font: Path) -> dict:
    """Encode the three demo files into ``out`` and write their manifest; returns the manifest."""
    version = check_ffmpeg()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".make-demo-", dir=out))
    try:
        moov_end = work / "clock-720p-moov-at-end.mp4"
        faststart = work / "clock-720p-faststart.mp4"
        webm = work / "clock-480p.webm"
        print(f"encoding {moov_end.name}…", file=sys.stderr)
        encode_mp4_moov_at_end(moov_end, seconds, font)
        print(f"writing {faststart.name} (same samples, moov first)…", file=sys.stderr)
        remux_faststart(moov_end, faststart)
        print(f"encoding {webm.name}…", file=sys.stderr)
        encode_webm(webm, seconds, font)
        titles = {
            faststart: "Clock 720p, H.264/AAC, index first (faststart)",
            moov_end: "Clock 720p, H.264/AAC, index at the end",
            webm: "Clock 480p, VP9/Opus (WebM)",
        }
        entries = [manifest_entry(path, title) for path, title in titles.items()]
        for path in titles:
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    manifest = {
        "generator": "resources/make_demo.py",
        "ffmpeg": version,
        "font": font.name,
        "pieces": entries,
    }
    (out / DEMO_MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def make_large(path: Path, mib: int, font: Path, demo_out: Path) -> dict:
    """The benchmark piece, its PieceCID remembered for the emulator so serving its folder starts at once."""
    if path.resolve().parent == demo_out.resolve():
        raise DemoError(f"keep the large piece out of {demo_out} (it must not be committed); choose another folder")
    if not 1 <= mib <= 64 * 1024:
        raise DemoError(f"--large-mib must be between 1 and 65536, not {mib}")
    check_ffmpeg()
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"encoding {path} (~{mib} MiB at constant 8 Mbit/s; a few minutes)…", file=sys.stderr)
    encode_large(path, mib, font)
    print("computing its PieceCID…", file=sys.stderr)
    entry = manifest_entry(path, "Clock 720p benchmark piece, H.264 CBR 8 Mbit/s")
    remember_piece_cid(path, entry["piece_cid"])
    return entry


def _ffmpeg(*args: str) -> None:
    try:
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)
    except subprocess.CalledProcessError as exc:
        raise DemoError(f"ffmpeg failed (exit {exc.returncode}); its message is above") from None


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python resources/make_demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the demo files and manifest")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each demo file")
    parser.add_argument("--large", type=Path, metavar="PATH", help="make only a 1–2 GB benchmark MP4 at PATH")
    parser.add_argument("--large-mib", type=int, default=DEFAULT_LARGE_MIB, help="size of the --large piece")
    parser.add_argument("--font", type=Path, help="a monospaced .ttf for the clock (default: DejaVu Sans Mono)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        font = find_font(args.font)
        if args.large:
            entry = make_large(args.large, args.large_mib, font, args.out)
            print(json.dumps(entry, indent=2))
            return 0
        if not 1 <= args.seconds <= 600:
            raise DemoError(f"--seconds must be between 1 and 600, not {args.seconds:g}")
        manifest = make_demo(args.out, args.seconds, font)
    except DemoError as exc:
        print(f"make_demo: {exc}", file=sys.stderr)
        return 1
    for entry in manifest["pieces"]:
        print(f"{entry['file']}  {entry['size']} bytes  {entry['piece_cid']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
