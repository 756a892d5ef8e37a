"""The player's Qt-free pieces: what the CID bar understands, how numbers read, what settings keep."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.panel.seek_chart import percentile
from player.self_test import clamp_seeks
from player.settings import HISTORY_LENGTH, Settings
from player.target import parse_target
from player.units import format_bytes, format_clock, format_duration, format_offset
from proxy.cid import CidError
from proxy.commp import commp_of_bytes

PIECE = commp_of_bytes(b"x" * 5000)


def test_a_v2_cid_is_understood_with_its_size() -> None:
    target = parse_target(f"  {PIECE.v2()}\n")
    assert target.cid == PIECE and target.cid_text == PIECE.v2()
    assert target.describe() == "v2 PieceCID · 4.88 KiB"


def test_a_v1_cid_says_its_size_is_learnt_on_open() -> None:
    assert parse_target(PIECE.v1()).describe() == "v1 PieceCID · size learnt on open"


def test_a_filbeam_url_gives_the_cid_and_an_upstream_template() -> None:
    url = f"https://0xabc.calibration.filbeam.io/{PIECE.v2()}"
    target = parse_target(url)
    assert target.cid == PIECE
    assert target.template == "https://0xabc.calibration.filbeam.io/{cid}"
    assert "from 0xabc.calibration.filbeam.io" in target.describe()


def test_a_provider_url_keeps_its_path_and_query_around_the_cid() -> None:
    target = parse_target(f"https://sp.example:8443/piece/{PIECE.v1()}?x=1")
    assert target.template == "https://sp.example:8443/piece/{cid}?x=1"
    assert target.cid_text == PIECE.v1()


@pytest.mark.parametrize("link", ["pieceplayer://{cid}", "pieceplayer://{cid}/", "PiecePlayer:{cid}"])
def test_a_pieceplayer_link_opens_its_piece(link: str) -> None:
    target = parse_target(link.format(cid=PIECE.v2()))
    assert target.cid == PIECE and target.cid_text == target.text == PIECE.v2() and target.template is None


def test_a_url_without_a_piece_plays_directly() -> None:
    target = parse_target("https://example.com/videos/clip.mp4")
    assert target.cid is None and target.direct_url == "https://example.com/videos/clip.mp4"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "paste a PieceCID"),
        ("ftp://host/file", "only http:// and https://"),
        ("pieceplayer://", "names no piece"),
        ("pieceplayer://not-a-cid", "CID"),
        ("https:///piece", "no host name"),
        ("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "IPFS CID"),
    ],
)
def test_bad_input_is_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(CidError, match=words):
        parse_target(text)


def test_numbers_read_as_a_person_expects() -> None:
    assert [format_bytes(n) for n in (0, 1023, 1536, 15 * 2**20 + 2**19, 3 * 2**30)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "15.5 MiB",
        "3 GiB",
    ]
    assert [format_clock(ms) for ms in (None, 0, 65_000, 3_725_000)] == ["--:--", "0:00", "1:05", "1:02:05"]
    assert [format_duration(s) for s in (None, 0.0384, 1.234, 90)] == ["—", "38 ms", "1.23 s", "1.5 min"]
    # the request log's "At" column is 46 px wide: five characters at most, however late the request
    assert [format_offset(s) for s in (0.171, 22.3, 384.12, 1234.5)] == ["0.17", "22.30", "384.1", "1234"]


def test_seeks_are_clamped_inside_the_media() -> None:
    assert clamp_seeks([10, 45, -3, 30], 40.0) == [10, 39.0, 0.0, 30]
    assert clamp_seeks([5], 0.5) == [0.0]


def test_p95_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.95) == 19.0
    assert percentile([7.0], 0.95) == 7.0


def test_settings_round_trip_and_keep_a_short_history(qapp, tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    settings = Settings(path)
    assert settings.volume == 0.8 and settings.templates == [] and settings.network == "mainnet"
    settings.templates = ["https://sp.example/piece/{cid}"]  # a one-item list stays a list
    settings.payer = "0x" + "ab" * 20
    settings.volume = 0.25
    for n in range(HISTORY_LENGTH + 5):
        settings.remember(f"piece-{n}")
    settings.remember("piece-3")
    settings.sync()
    again = Settings(path)
    assert again.templates == ["https://sp.example/piece/{cid}"]
    assert again.volume == 0.25
    assert again.history[:2] == ["piece-3", f"piece-{HISTORY_LENGTH + 4}"] and len(again.history) == HISTORY_LENGTH
    assert [s.kind for s in again.sources()] == ["filbeam", "template"]


def test_unreadable_settings_fall_back_to_defaults(qapp, tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    path.write_text('[General]\nvolume=loud\nslice_size="big"\nhistory=[1\n')
    settings = Settings(path)
    assert settings.volume == 0.8 and settings.history == [] and settings.slice_size == 1 << 20
