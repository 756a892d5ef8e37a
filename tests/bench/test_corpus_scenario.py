"""The corpus scenario measures the files the playability matrix expects to play, and its goal row names the worst."""

from __future__ import annotations

from bench.model import ScenarioResult
from bench.plan import QUICK
from bench.scenarios.corpus import CORPUS_DIR, WORST, _name_the_worst, file_key, playing_files


def test_the_playing_files_are_the_spec_s_video_and_audio_rows_and_exist() -> None:
    files = playing_files()
    assert "audio-opus.opus" in files and "hevc-10bit.mp4" in files
    failing = {"av1-opus.webm", "av1-aac.mp4", "truncated-faststart.mp4", "truncated.mkv", "not-media.html"}
    assert not failing & set(files)
    assert all((CORPUS_DIR / name).is_file() for name in files)
    assert QUICK.corpus_files is not None and set(QUICK.corpus_files) <= set(files)


def _result(figures: dict[str, tuple[list[float], list[float], list[str]]]) -> ScenarioResult:
    result = ScenarioResult("corpus", "corpus", "")
    for name, (ours, direct, errors) in figures.items():
        measure = result.measure(file_key(name), name, "ms")
        measure.cell("pieceplayer").samples.extend(ours)
        measure.cell("pieceplayer").errors.extend(errors)
        measure.cell("direct").samples.extend(direct)
    result.measure(WORST, "worst file", "ms")
    return result


def test_the_worst_file_is_the_highest_ratio_of_medians() -> None:
    result = _result({"a.mp4": ([120, 100, 110], [100, 100, 90], []), "b.webm": ([60, 70], [50, 50], [])})
    _name_the_worst(result, ["a.mp4", "b.webm"])
    worst = result.measures[WORST]
    assert "b.webm" in worst.label
    assert worst.cell("pieceplayer").samples == [60, 70] and worst.cell("direct").samples == [50, 50]


def test_a_file_whose_proxied_runs_failed_is_the_worst_whatever_the_ratios() -> None:
    failed = "self-test timed out after 300 s"
    result = _result({"a.mp4": ([300], [100], []), "b.webm": ([60], [70], [failed])})
    _name_the_worst(result, ["a.mp4", "b.webm"])
    assert "b.webm" in result.measures[WORST].label
    assert result.measures[WORST].cell("pieceplayer").errors == [failed]
