"""The playability matrix: every file of ``tests/corpus/`` played by ``pieceplayer --self-test``, through the proxy
and direct, with the emulator as origin.

``EXPECTED`` below is the spec: what a user gets for each container, codec and edge case. Every outcome is one of
three — the video plays and its seeks land, the audio plays (and its seeks land), or the self-test says what is
wrong in words — never a hang and never a failure without a reason. The proxy must never do worse than playing
the origin direct, and where the proxy cached a piece whole, its bytes must be the piece's bytes (the CommP check
of the cache passed) and must have been pulled once (upstream bytes = file size).

Each run is its own process, as CI and a user run it: a decoder that crashes (Qt's FFmpeg on AV1 did, once in a
few runs, in-process) fails one row instead of the suite. Two run at a time on this 2-core machine.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from player.seek_monitor import DEFAULT_TOLERANCE_MS
from proxy.commp import commp_of_file
from proxy.emulator import Emulator, Knobs
from tests.conftest import CORPUS

MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
ENTRIES = {entry["file"]: entry for entry in MANIFEST["pieces"]}
SEEKS_S = (5.0, 2.0)
#: The self-test's own limit; the subprocess gets more, so that only a real hang trips ``RUN_LIMIT_S``.
SELF_TEST_TIMEOUT_S = 40
RUN_LIMIT_S = 90
PARALLEL_RUNS = 2
TOLERANCE_S = DEFAULT_TOLERANCE_MS / 1000

VIDEO = "plays and seeks land"
AUDIO = "plays audio"


@dataclass(frozen=True)
class Says:
    """The self-test fails, and its error says this (a regular expression)."""

    words: str

    def __str__(self) -> str:
        return f"says: {self.words}"


# fmt: off
EXPECTED: dict[str, str | Says] = {
    "mp4-faststart-h264-aac.mp4": VIDEO,
    "mp4-moov-at-end-h264-aac.mp4": VIDEO,
    "fmp4-no-index.mp4": VIDEO,
    "fmp4-sidx.mp4": VIDEO,
    "fmp4-mfra.mp4": VIDEO,
    "hevc-8bit.mp4": VIDEO,
    "hevc-10bit.mp4": VIDEO,
    # Qt's FFmpeg (7.1, LGPL build in PySide6 6.11) has only the hardware-only native AV1 decoder: no frame.
    "av1-opus.webm": Says("this player cannot decode AV1 video"),
    "av1-aac.mp4": Says("this player cannot decode AV1 video"),
    "vp8-vorbis.webm": VIDEO,
    "vp9-opus.webm": VIDEO,
    "mkv-ass-font.mkv": VIDEO,
    "mkv-two-audio.mkv": VIDEO,
    "mp4-two-audio.mp4": VIDEO,
    "mov-rotated-editlist.mov": VIDEO,
    # Qt seeks MPEG-TS to the keyframe after the target (a second late here), direct as through the proxy.
    "ts-nonzero-start.ts": Says(r"seeks landed later than ±0\.5 s from their target: 5 s → 6\.0\d+ s"),
    "avi-mpeg4-mp3.avi": VIDEO,
    "theora-vorbis.ogv": VIDEO,
    "vfr-h264.mp4": VIDEO,
    "audio-mp3.mp3": AUDIO,
    "audio-flac-cover.flac": AUDIO,
    "audio-aac.m4a": AUDIO,
    "audio-opus.opus": AUDIO,
    # The cut falls at 4.76 s: the start plays and 2 s lands, 5 s has no frame to show. Through the proxy, whose
    # byte ↔ time map sees the samples past the data, the seek is refused at once (EXPECTED_DIRECT: direct play).
    "truncated-faststart.mp4": Says(r"nothing plays at 5 s: the piece ends early, at 4\.76 s"),
    # Cut before its Cues: the proxy finds where its data stops (4.54 s) in its last Clusters and refuses the seek.
    "truncated.mkv": Says(r"nothing plays at 5 s: the piece ends early, at 4\.54\d* s"),
    # The proxy sniffs no type for HTML: application/octet-stream is named.
    "not-media.html": Says(r"The piece downloads \(application/octet-stream, 113 B\) but is not audio or video this"),
    # ffmpeg reads past the damaged trak box ("Broken file, trak/mdat not at top-level"): the video still plays.
    "corrupt-box.mp4": VIDEO,
}
#: Where playing direct differs from the proxy (it is never better): direct, nobody can tell that no byte is coming.
EXPECTED_DIRECT: dict[str, str | Says] = {
    "truncated-faststart.mp4": Says(r"no frame within ±0\.5 s of the seek target\(s\) 5 s"),
    "truncated.mkv": Says(r"no frame within ±0\.5 s of the seek target\(s\) 5 s"),
}
# fmt: on
_RANK = {VIDEO: 2, AUDIO: 1}


@dataclass(frozen=True)
class Run:
    status: int
    summary: dict
    stderr: str
    seconds: float


def outcome(run: Run) -> str | Says:
    """Which of the three outcomes a run had, judged from its JSON alone."""
    summary = run.summary
    if not summary["ok"]:
        return Says(summary["error"])
    key = "position_s" if summary.get("audio_only") else "frame_s"
    landed = all(abs(seek[key] - seek["target_s"]) <= TOLERANCE_S for seek in summary["seeks"])
    assert landed and len(summary["seeks"]) == len(SEEKS_S), summary  # ok is only true when every seek landed
    return AUDIO if summary.get("audio_only") else VIDEO


def matches(got: str | Says, expected: str | Says) -> bool:
    if isinstance(expected, Says):
        return isinstance(got, Says) and re.search(expected.words, got.words) is not None
    return got == expected


def rank(result: str | Says) -> int:
    return _RANK.get(result, 0) if isinstance(result, str) else 0


async def _self_test(cid: str, upstream: str, direct: bool, home: Path) -> Run:
    args = ["--self-test", cid, "--upstream", upstream, "--seeks", ",".join(f"{s:g}" for s in SEEKS_S)]
    args += ["--timeout", str(SELF_TEST_TIMEOUT_S), *(["--direct"] if direct else [])]
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "player", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_LIMIT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Run(-1, {"ok": False, "error": f"hung: no answer within {RUN_LIMIT_S} s"}, "", RUN_LIMIT_S)
    lines = out.decode().strip().splitlines()
    try:
        summary = json.loads(lines[-1])
    except (IndexError, ValueError):
        summary = {"ok": False, "error": f"no JSON summary (exit status {process.returncode})"}
    return Run(process.returncode or 0, summary, err.decode(), time.monotonic() - started)


async def _play_all(home: Path) -> dict[tuple[str, str], Run]:
    """Every corpus file, through the proxy (FilBeam-like origin) and direct (Curio-like origin: ranges)."""
    served = home / "served"  # the media and manifest only: the emulator serves every file of its folder
    served.mkdir()
    for name in [*EXPECTED, "manifest.json"]:
        shutil.copyfile(CORPUS / name, served / name)
    cdn = Emulator(served, Knobs(latency_ms=20))
    provider = Emulator(served, Knobs(latency_ms=20, mode="curio"))
    cdn_url, provider_url = await cdn.start(), await provider.start()
    gate = asyncio.Semaphore(PARALLEL_RUNS)

    async def one(name: str, via: str) -> tuple[tuple[str, str], Run]:
        cid = ENTRIES[name]["piece_cid"]
        upstream = f"{provider_url}/piece/{{cid}}" if via == "direct" else f"{cdn_url}/{{cid}}"
        async with gate:
            return (name, via), await _self_test(cid, upstream, via == "direct", home / f"{name}-{via}")

    # The slowest rows (a seek that waits out the monitor's timeout) start first, so both lanes end together.
    order = sorted(EXPECTED, key=lambda name: name not in ("truncated-faststart.mp4", "truncated.mkv"))
    try:
        return dict(await asyncio.gather(*(one(name, via) for name in order for via in ("proxy", "direct"))))
    finally:
        await cdn.stop()
        await provider.stop()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    """All runs at once (two at a time), before the rows are checked one by one."""
    return asyncio.run(_play_all(tmp_path_factory.mktemp("matrix")))


def _explain(run: Run) -> str:
    return f"{json.dumps(run.summary)}\n{run.stderr[-1500:]}"


# --- the corpus is what it says it is --------------------------------------------------------------------------


def test_the_spec_names_every_corpus_file_and_the_manifest_tells_the_truth() -> None:
    files = sorted(p.name for p in CORPUS.iterdir() if p.is_file() and p.suffix not in (".py", ".json", ""))
    assert sorted(EXPECTED) == files == sorted(ENTRIES)
    assert sum((CORPUS / name).stat().st_size for name in files) < 16_000_000
    for name in files:
        entry = ENTRIES[name]
        computed = commp_of_file(CORPUS / name)
        assert (entry["size"], entry["piece_cid"]) == ((CORPUS / name).stat().st_size, computed.v2()), name


def _probe(name: str, *entries: str) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", ",".join(entries), "-of", "json", str(CORPUS / name)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def _root_boxes(name: str) -> list[str]:
    trace = subprocess.run(["ffprobe", "-v", "trace", str(CORPUS / name)], capture_output=True, text=True).stderr
    return re.findall(r"type:'(\w{4})' parent:'root'", trace)


def test_the_fragmented_mp4s_carry_the_index_their_names_promise() -> None:
    assert {"sidx", "mfra"}.isdisjoint(_root_boxes("fmp4-no-index.mp4"))
    assert "moof" in _root_boxes("fmp4-no-index.mp4")
    assert "sidx" in _root_boxes("fmp4-sidx.mp4") and "mfra" not in _root_boxes("fmp4-sidx.mp4")
    assert _root_boxes("fmp4-mfra.mp4")[-1] == "mfra" and "sidx" not in _root_boxes("fmp4-mfra.mp4")
    assert _root_boxes("mp4-moov-at-end-h264-aac.mp4")[-1] == "moov"


def test_the_codec_and_track_cases_hold_what_their_names_promise() -> None:
    def streams(name: str) -> list[tuple[str, str]]:
        probed = _probe(name, "stream=codec_type,codec_name")["streams"]
        return [(s["codec_type"], s["codec_name"]) for s in probed]

    assert _probe("hevc-10bit.mp4", "stream=pix_fmt")["streams"][0]["pix_fmt"] == "yuv420p10le"
    assert _probe("hevc-8bit.mp4", "stream=pix_fmt")["streams"][0]["pix_fmt"] == "yuv420p"
    assert streams("mkv-ass-font.mkv") == [
        ("video", "h264"), ("audio", "aac"), ("subtitle", "ass"), ("attachment", "ttf")
    ]  # fmt: skip
    assert [s for s in streams("mkv-two-audio.mkv") if s[0] == "audio"] == [("audio", "aac"), ("audio", "opus")]
    assert [s for s in streams("mp4-two-audio.mp4") if s[0] == "audio"] == [("audio", "aac"), ("audio", "aac")]
    assert streams("av1-aac.mp4")[0] == ("video", "av1") and streams("av1-opus.webm")[0] == ("video", "av1")
    flac = _probe("audio-flac-cover.flac", "stream=codec_name:stream_disposition=attached_pic")["streams"]
    assert [(s["codec_name"], s["disposition"]["attached_pic"]) for s in flac] == [("flac", 0), ("png", 1)]


def test_the_timing_edge_cases_hold_what_their_names_promise() -> None:
    phone = _probe("mov-rotated-editlist.mov", "stream_side_data=rotation")["streams"][0]
    assert phone["side_data_list"][0]["rotation"] in (90, -90)
    trace = subprocess.run(
        ["ffprobe", "-v", "trace", str(CORPUS / "mov-rotated-editlist.mov")], capture_output=True, text=True
    ).stderr
    assert len(re.findall(r"type:'elst'", trace)) == 2  # both tracks start with an edit list
    assert float(_probe("ts-nonzero-start.ts", "format=start_time")["format"]["start_time"]) > 36000
    frames = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time", "-of", "csv=p=0",
         str(CORPUS / "vfr-h264.mp4")],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    times = [float(t.strip(",")) for t in frames]
    gaps = {round(b - a, 2) for a, b in itertools.pairwise(times)}
    assert min(gaps) == 0.04 and max(gaps) >= 0.08  # 25 fps and slower stretches


def test_the_damaged_files_are_damaged() -> None:
    whole = (CORPUS / "mp4-faststart-h264-aac.mp4").read_bytes()
    cut = (CORPUS / "truncated-faststart.mp4").read_bytes()
    assert whole.startswith(cut) and len(cut) == len(whole) * 6 // 10
    mkv = _probe("truncated.mkv", "format=duration", "stream=codec_type")
    assert float(mkv["format"]["duration"]) == pytest.approx(8.0, abs=0.05)  # the header's promise…
    assert b"\x1c\x53\xbb\x6b" not in (CORPUS / "truncated.mkv").read_bytes()[4096:]  # …and no Cues past the head
    corrupt = (CORPUS / "corrupt-box.mp4").read_bytes()
    assert len(corrupt) == len(whole) and corrupt != whole
    warning = subprocess.run(
        ["ffprobe", "-v", "error", str(CORPUS / "corrupt-box.mp4")], capture_output=True, text=True
    )
    assert "Broken file" in warning.stderr


# --- the matrix ----------------------------------------------------------------------------------------------


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_corpus_file_plays_as_the_spec_says_and_the_proxy_never_does_worse(
    matrix: dict[tuple[str, str], Run], name: str
) -> None:
    proxied, direct = matrix[(name, "proxy")], matrix[(name, "direct")]
    for run in (proxied, direct):
        assert run.status >= 0, f"{name}: {run.summary['error']}"  # not a hang
        assert (run.status == 0) == run.summary["ok"], _explain(run)
        if not run.summary["ok"]:  # a failure always says why, in words
            assert re.search(r"[a-z]{3,} [a-z]{2,}", run.summary["error"] or ""), _explain(run)
    got_proxied, got_direct = outcome(proxied), outcome(direct)
    assert rank(got_proxied) >= rank(got_direct), f"the proxy did worse than direct:\n{_explain(proxied)}"
    expected, expected_direct = EXPECTED[name], EXPECTED_DIRECT.get(name, EXPECTED[name])
    assert matches(got_direct, expected_direct), (
        f"direct: expected {expected_direct}, got {got_direct}\n{_explain(direct)}"
    )
    assert matches(got_proxied, expected), f"proxy: expected {expected}, got {got_proxied}\n{_explain(proxied)}"
    size = ENTRIES[name]["size"]
    summary = proxied.summary
    assert summary["via"] == "proxy" and direct.summary["via"] == "direct"
    if summary["ok"]:  # the player read the piece whole: the cache's CommP check proves the bytes are the file's
        assert summary["served_bytes"] >= size and summary["verified"] is True, summary
    else:
        assert summary["verified"] in (True, None), summary
    assert summary["upstream_bytes"] == size, summary  # every byte pulled once, none twice
