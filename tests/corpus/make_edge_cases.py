"""Make the playability corpus (``tests/corpus/``): one small file per container, codec and edge case.

Why generated: every byte here comes from ffmpeg's own test sources (``testsrc2``, ``sine``), so nothing
unlicensed is committed and anyone can rebuild the set with the same ffmpeg. The one third-party input is the
DejaVu Sans Mono font attached to the Matroska subtitle file (Debian ``fonts-dejavu-core``, a free licence that
allows redistribution). ``SOURCES`` says where each file came from; ``tests/player/test_corpus_matrix.py`` holds what
each must do in the player.

Each recipe is a list of ffmpeg arguments after the inputs; a few files are then cut or damaged on purpose
(truncated, a corrupt box). The manifest (``manifest.json``) records each file's PieceCID, size and SHA-256, so
the emulator serves the folder without hashing it and the test notices a file that changed.

    python tests/corpus/make_edge_cases.py [--out tests/corpus] [--only NAME…]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: proxy/ names the pieces

from proxy.commp import commp_of_file

HERE = Path(__file__).resolve().parent
SECONDS = 8
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
_BITEXACT = ("-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact")
#: 320x240 at 25 fps with a keyframe every second: small, and a seek always has a keyframe near it.
_VIDEO_IN = ("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={SECONDS}")
_TONE_IN = ("-f", "lavfi", "-i", f"sine=frequency=440:beep_factor=4:duration={SECONDS}")
_LOW_TONE_IN = ("-f", "lavfi", "-i", f"sine=frequency=220:duration={SECONDS}")
_H264 = ("-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "25", "-pix_fmt", "yuv420p")
_AAC = ("-c:a", "aac", "-b:a", "64k")


@dataclass(frozen=True)
class Recipe:
    file: str
    what: str
    inputs: tuple[str, ...]
    args: tuple[str, ...]
    #: Bytes → bytes, applied after ffmpeg (a cut, a damaged box).
    damage: Callable[[bytes], bytes] | None = None
    #: The ffmpeg output's own name when ffmpeg must see another suffix than the committed file has.
    made_as: str | None = None
    #: The file's bytes, written as they are instead of made by ffmpeg.
    written: bytes | None = None


def _truncate(data: bytes) -> bytes:
    """Keep the first 60 %: the index (moov first) promises samples that never arrive."""
    return data[: len(data) * 6 // 10]


def _truncate_mkv(data: bytes) -> bytes:
    """Keep the first 55 %: the Segment promises its whole Duration, the Cues (written after the last Cluster) are
    lost, and the data stops at 4.5 s — far enough before the matrix's seek to 5 s that no frame lands near it."""
    return data[: len(data) * 55 // 100]


def _corrupt_box(data: bytes) -> bytes:
    """Give the first ``trak`` box inside ``moov`` a size far past the end of its parent."""
    at = data.index(b"trak") - 4
    return data[:at] + (0x7FFFFFF0).to_bytes(4, "big") + data[at + 4 :]


def _vfr_pts() -> str:
    """25 fps for 3 s, then 10 fps, then 25 fps again: the frame rate changes twice (a screen recording's)."""
    return "setpts='if(lt(N,75),N/25,if(lt(N,125),3+(N-75)/10,8+(N-125)/25))/TB'"


RECIPES: tuple[Recipe, ...] = (
    Recipe("mp4-faststart-h264-aac.mp4", "MP4, index (moov) first", _VIDEO_IN + _TONE_IN,
           _H264 + _AAC + ("-movflags", "+faststart")),
    Recipe("mp4-moov-at-end-h264-aac.mp4", "MP4, index (moov) after the media data", _VIDEO_IN + _TONE_IN,
           _H264 + _AAC),
    Recipe("fmp4-no-index.mp4", "fragmented MP4, no sidx and no mfra", _VIDEO_IN + _TONE_IN,
           _H264 + _AAC + ("-movflags", "+frag_keyframe+empty_moov+default_base_moof+skip_trailer")),
    Recipe("fmp4-sidx.mp4", "fragmented MP4 with one global sidx", _VIDEO_IN + _TONE_IN,
           _H264 + _AAC + ("-movflags", "+frag_keyframe+empty_moov+default_base_moof+global_sidx+skip_trailer")),
    Recipe("fmp4-mfra.mp4", "fragmented MP4 with an mfra random-access index at the end", _VIDEO_IN + _TONE_IN,
           _H264 + _AAC + ("-movflags", "+frag_keyframe+empty_moov+default_base_moof")),
    Recipe("hevc-8bit.mp4", "HEVC Main (8-bit), hvc1, AAC", _VIDEO_IN + _TONE_IN,
           ("-c:v", "libx265", "-preset", "ultrafast", "-b:v", "200k", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
            "-x265-params", "keyint=25:min-keyint=25:log-level=error", *_AAC, "-movflags", "+faststart")),
    Recipe("hevc-10bit.mp4", "HEVC Main 10 (10-bit), hvc1, AAC", _VIDEO_IN + _TONE_IN,
           ("-c:v", "libx265", "-preset", "ultrafast", "-b:v", "200k", "-pix_fmt", "yuv420p10le", "-tag:v",
            "hvc1", "-x265-params", "keyint=25:min-keyint=25:log-level=error", *_AAC, "-movflags", "+faststart")),
    Recipe("av1-opus.webm", "AV1 and Opus in WebM", _VIDEO_IN + _TONE_IN,
           ("-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1", "-b:v", "200k", "-g", "25",
            "-c:a", "libopus", "-b:a", "48k")),
    Recipe("av1-aac.mp4", "AV1 and AAC in MP4", _VIDEO_IN + _TONE_IN,
           ("-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1", "-b:v", "200k", "-g", "25", *_AAC,
            "-movflags", "+faststart")),
    Recipe("vp8-vorbis.webm", "VP8 and Vorbis in WebM", _VIDEO_IN + _TONE_IN,
           ("-c:v", "libvpx", "-b:v", "300k", "-g", "25", "-deadline", "realtime", "-cpu-used", "8",
            "-c:a", "libvorbis", "-q:a", "2")),
    Recipe("vp9-opus.webm", "VP9 and Opus in WebM", _VIDEO_IN + _TONE_IN,
           ("-c:v", "libvpx-vp9", "-b:v", "300k", "-g", "25", "-deadline", "realtime", "-cpu-used", "8",
            "-c:a", "libopus", "-b:a", "48k")),
    Recipe("mkv-ass-font.mkv", "Matroska: H.264, AAC, ASS subtitles and an attached font",
           _VIDEO_IN + _TONE_IN + ("-i", "{subtitles}"),
           ("-map", "0:v", "-map", "1:a", "-map", "2:s", *_H264, *_AAC, "-c:s", "ass",
            "-attach", str(FONT), "-metadata:s:t", "mimetype=application/x-truetype-font",
            "-metadata:s:t", "filename=DejaVuSansMono.ttf")),
    Recipe("mkv-two-audio.mkv", "Matroska: H.264 and two audio tracks (eng AAC, fra Opus)",
           _VIDEO_IN + _TONE_IN + _LOW_TONE_IN,
           ("-map", "0:v", "-map", "1:a", "-map", "2:a", *_H264, "-c:a:0", "aac", "-b:a:0", "64k", "-c:a:1",
            "libopus", "-b:a:1", "48k", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra")),
    Recipe("mp4-two-audio.mp4", "MP4: H.264 and two AAC tracks (eng, fra)", _VIDEO_IN + _TONE_IN + _LOW_TONE_IN,
           ("-map", "0:v", "-map", "1:a", "-map", "2:a", *_H264, *_AAC, "-metadata:s:a:0", "language=eng",
            "-metadata:s:a:1", "language=fra", "-movflags", "+faststart")),
    Recipe("mov-rotated-editlist.mov", "QuickTime MOV as a phone writes it: rotated 90°, edit lists, B-frames",
           ("-ss", "0.6", "-i", "{phone_source}"),
           ("-c", "copy", "-metadata:s:v:0", "rotate=90", "-movflags", "+faststart")),
    Recipe("ts-nonzero-start.ts", "MPEG-TS whose clock starts at 10 h (as a cut broadcast recording)",
           _VIDEO_IN + _TONE_IN, (*_H264, "-c:a", "mp2", "-b:a", "96k", "-output_ts_offset", "36000")),
    Recipe("avi-mpeg4-mp3.avi", "AVI: MPEG-4 Part 2 video and MP3 audio", _VIDEO_IN + _TONE_IN,
           ("-c:v", "mpeg4", "-q:v", "6", "-g", "25", "-c:a", "libmp3lame", "-b:a", "64k")),
    Recipe("theora-vorbis.ogv", "Ogg: Theora video and Vorbis audio", _VIDEO_IN + _TONE_IN,
           ("-c:v", "libtheora", "-q:v", "5", "-g", "25", "-c:a", "libvorbis", "-q:a", "2")),
    Recipe("vfr-h264.mp4", "MP4 with a variable frame rate (25, then 10, then 25 fps)",
           ("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=7.2", *_TONE_IN),
           ("-vf", _vfr_pts(), "-fps_mode", "vfr", *_H264, *_AAC, "-movflags", "+faststart")),
    Recipe("audio-mp3.mp3", "MP3 with an ID3v2 tag", _TONE_IN,
           ("-c:a", "libmp3lame", "-b:a", "64k", "-id3v2_version", "3", "-metadata", "title=corpus tone")),
    Recipe("audio-flac-cover.flac", "FLAC with cover art (an attached PNG picture)",
           (*_TONE_IN, "-f", "lavfi", "-i", "testsrc2=size=64x64:duration=1,trim=end_frame=1"),
           ("-map", "0:a", "-map", "1:v", "-c:a", "flac", "-c:v", "png", "-disposition:v", "attached_pic",
            "-metadata:s:v", "title=Album cover", "-metadata:s:v", "comment=Cover (front)")),
    Recipe("audio-aac.m4a", "M4A: AAC audio only", _TONE_IN, (*_AAC, "-movflags", "+faststart")),
    Recipe("audio-opus.opus", "Opus in Ogg", _TONE_IN, ("-c:a", "libopus", "-b:a", "48k")),
    Recipe("truncated-faststart.mp4", "MP4 (index first) cut after 60 % of its bytes", _VIDEO_IN + _TONE_IN,
           _H264 + _AAC + ("-movflags", "+faststart"), damage=_truncate),
    Recipe("truncated.mkv", "Matroska cut after 55 % of its bytes (the Cues, written last, are lost)",
           _VIDEO_IN + _TONE_IN, _H264 + _AAC, damage=_truncate_mkv),
    Recipe("not-media.html", "an HTML error page where a piece was expected (a gateway's login page)", (), (),
           written=b"<!doctype html>\n<html><head><title>Sign in</title></head>\n<body><p>Please sign in to continue."
                   b"</p></body></html>\n"),
    Recipe("corrupt-box.mp4", "MP4 whose first trak box claims a size past the end of the file", _VIDEO_IN + _TONE_IN,
           _H264 + _AAC + ("-movflags", "+faststart"), damage=_corrupt_box),
)  # fmt: skip

_SUBTITLES = """[Script Info]
ScriptType: v4.00+
PlayResX: 320
PlayResY: 240

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding
Style: Default,DejaVu Sans Mono,20,&H00FFFFFF,&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,2,0,2,10,10,\
10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.50,0:00:03.00,Default,,0,0,0,,The first subtitle line
Dialogue: 0,0:00:03.50,0:00:07.50,Default,,0,0,0,,The second one, in the attached font
"""


def ffmpeg_version() -> str:
    first = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True).stdout.split()
    return first[2]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def make(recipe: Recipe, out: Path, work: Path) -> Path:
    """Make one file in ``out`` from its recipe."""
    target = out / recipe.file
    if recipe.written is not None:
        target.write_bytes(recipe.written)
        return target
    subtitles = work / "subtitles.ass"
    subtitles.write_text(_SUBTITLES)
    phone_source = work / "phone-source.mov"
    if "{phone_source}" in recipe.inputs and not phone_source.exists():
        _ffmpeg(*_VIDEO_IN, *_TONE_IN, "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "25",
                "-bf", "2", "-pix_fmt", "yuv420p", *_AAC, *_BITEXACT, str(phone_source))  # fmt: skip
    names = {"subtitles": str(subtitles), "phone_source": str(phone_source)}
    inputs = [part.format(**names) if part.startswith("{") else part for part in recipe.inputs]
    made = work / (recipe.made_as or recipe.file)
    _ffmpeg(*inputs, *recipe.args, *_BITEXACT, str(made))
    data = made.read_bytes()
    target.write_bytes(recipe.damage(data) if recipe.damage else data)
    return target


def manifest_entry(recipe: Recipe, path: Path) -> dict:
    computed = commp_of_file(path)
    return {
        "file": recipe.file,
        "title": recipe.what,
        "piece_cid": computed.v2(),
        "piece_cid_v1": computed.v1(),
        "size": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--only", nargs="*", metavar="NAME", help="remake only these files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    old = json.loads(manifest_path.read_text())["pieces"] if manifest_path.exists() else []
    entries = {entry["file"]: entry for entry in old}
    with tempfile.TemporaryDirectory(prefix="corpus-") as work:
        for recipe in RECIPES:
            if args.only and recipe.file not in args.only:
                continue
            print(f"making {recipe.file}", file=sys.stderr)
            entries[recipe.file] = manifest_entry(recipe, make(recipe, args.out, Path(work)))
    order = [recipe.file for recipe in RECIPES]
    manifest = {
        "generator": "tests/corpus/make_edge_cases.py",
        "ffmpeg": ffmpeg_version(),
        "pieces": [entries[name] for name in order if name in entries],
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
