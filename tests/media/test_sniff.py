"""Content type from a piece's first bytes, unit by unit: every file of the playability corpus (ffmpeg-made, real
containers) gets its own type from its first 4 KiB, and data that is none of them stays octet-stream.

The end-to-end checks (the type a player is sent, with a slow upstream) are in ``test_proxy_http`` and
``test_prefetch``; here the sniffer alone is asked, with real heads and with the few bytes around each rule.
"""

from __future__ import annotations

import random

import pytest

from proxy.sniff import OCTET_STREAM, SNIFF_BYTES, sniff_content_type
from tests.conftest import CORPUS

EXPECTED = {
    "mp4-faststart-h264-aac.mp4": "video/mp4",
    "fmp4-sidx.mp4": "video/mp4",
    "mov-rotated-editlist.mov": "video/quicktime",
    "audio-aac.m4a": "audio/mp4",
    "mkv-two-audio.mkv": "video/x-matroska",
    "av1-opus.webm": "video/webm",
    "theora-vorbis.ogv": "video/ogg",
    "audio-opus.opus": "audio/ogg",
    "avi-mpeg4-mp3.avi": "video/x-msvideo",
    "audio-flac-cover.flac": "audio/flac",
    "audio-mp3.mp3": "audio/mpeg",
    "ts-nonzero-start.ts": "video/mp2t",
    "not-media.html": OCTET_STREAM,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_corpus_file_is_named_by_its_first_bytes(name: str) -> None:
    head = (CORPUS / name).read_bytes()[:SNIFF_BYTES]
    assert sniff_content_type(head) == EXPECTED[name]


def test_random_bytes_empty_bytes_and_a_lone_magic_prefix_are_octet_stream() -> None:
    rng = random.Random(20261202)
    for _ in range(200):
        head = rng.randbytes(rng.randrange(SNIFF_BYTES))
        if not head.startswith((b"ID3", b"\xff")):  # an MP3 frame sync can begin random data
            assert sniff_content_type(head) == OCTET_STREAM
    assert sniff_content_type(b"") == OCTET_STREAM
    assert sniff_content_type(b"\x1a\x45\xdf") == OCTET_STREAM  # three of EBML's four magic bytes


def test_a_head_cut_short_still_names_the_container_it_starts() -> None:
    head = (CORPUS / "mp4-faststart-h264-aac.mp4").read_bytes()
    assert sniff_content_type(head[:32]) == "video/mp4"  # the ftyp box and its brand are enough
