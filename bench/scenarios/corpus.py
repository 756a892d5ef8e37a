"""Issue 20: the first frame through the proxy on every real-world corpus file that plays, against direct.

The corpus (``tests/corpus/``) holds the files people store: HEVC, VP8/VP9, MKV with subtitles, a phone's MOV,
fragmented MP4s, Theora, AVI, music. Which of them play is the playability matrix's spec
(``EXPECTED`` in ``tests/player/test_corpus_matrix.py``): this scenario takes every file whose outcome there is
*plays and seeks land* or *plays audio*, so a file that starts playing later is measured without a change here.

One origin process (``proxy.emulator`` in ``curio`` mode with the run's latency and bandwidth) serves a folder
holding those files and the corpus manifest. Per turn and file, in rotated order: the player's self-test through
its own proxy (fresh cache), and the same self-test ``--direct`` from the same origin; ``ttff_ms`` is open →
first frame (for audio, the first position progress). One row per file, and one row for the worst file (the
highest ratio of medians, or a file whose proxied runs failed) — the goal: ≤ 1.15 × direct.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from bench.contenders import Direct, PiecePlayer
from bench.media import WARMUP_NAME, Piece
from bench.model import Cell, ScenarioResult
from bench.origin import Origin
from bench.plan import RunContext
from bench.procs import REPO_ROOT
from bench.scenarios.common import rotated
from bench.scenarios.frames import player_help, self_test

#: The one seek each self-test makes (it needs one to pass); every corpus file that plays lands a seek at 2 s.
SEEK_S = 2.0
WORST = "worst_first_frame_ms"
CORPUS_DIR = REPO_ROOT / "tests" / "corpus"
CONTENDERS = (PiecePlayer, Direct)


def file_key(name: str) -> str:
    return f"first_frame_ms:{name}"


def playing_files() -> list[str]:
    """The corpus files whose expected outcome is that they play (video or audio), in the spec's order.

    Imported here, not at the top: the spec lives with the matrix test, which brings pytest and Qt along, and only
    this scenario needs it.
    """
    from tests.player.test_corpus_matrix import AUDIO, EXPECTED, VIDEO

    return [name for name, outcome in EXPECTED.items() if outcome in (VIDEO, AUDIO)]


async def corpus_first_frame(ctx: RunContext) -> ScenarioResult:
    files = list(ctx.plan.corpus_files or playing_files())
    result = ScenarioResult(
        "corpus",
        "Real-world corpus: first frame per file (issue 20)",
        f"Per turn and file ({len(files)} corpus files that play, per the playability matrix's spec), in rotated "
        f"order: the player's self-test (one seek, at {SEEK_S:g} s) through its own proxy with a fresh cache, and "
        "the same self-test `--direct`, both from one origin process serving the corpus with the run's latency "
        "and bandwidth. First frame = `ttff_ms` (for audio: the first position progress). The worst file is the "
        "one with the highest ratio of medians (or whose proxied runs failed).",
    )
    for name in files:
        result.measure(file_key(name), f"{name}: open → first frame", "ms")
    result.measure(WORST, "worst file: open → first frame", "ms")
    for measure in result.measures.values():
        for name in ctx.contenders:
            if name not in {c.name for c in CONTENDERS}:
                measure.cell(name).skipped = "not run: this scenario compares PiecePlayer with direct"
    if await player_help() is None:
        result.skip_all([c.name for c in CONTENDERS], "player --self-test not available on this branch")
        return result
    work = ctx.work / "corpus"
    origin = Origin(_served_folder(ctx, files, work / "served"), work / "origin.log")
    try:
        await origin.start()
        contenders = [cls(work, origin.template()) for cls in CONTENDERS]
        sub = dataclasses.replace(ctx, origin=origin, work=work)
        for turn in range(ctx.plan.corpus_repeats):
            for name in files:
                piece = _piece(ctx, work / "served" / name)
                for contender in rotated(contenders, turn):
                    report, error = await self_test(sub, contender, [SEEK_S], f"{name}-{turn}", piece=piece)
                    cell = result.measures[file_key(name)].cell(contender.name)
                    if error:
                        cell.errors.append(error)
                    else:
                        cell.samples.append(float(report["ttff_ms"]))
    finally:
        await origin.stop()
    _name_the_worst(result, files)
    return result


def _served_folder(ctx: RunContext, files: list[str], folder: Path) -> Path:
    """The files, the corpus manifest (their PieceCIDs) and the run's warm-up piece (``fresh`` reads it)."""
    folder.mkdir(parents=True)
    for name in [*files, "manifest.json"]:
        shutil.copyfile(CORPUS_DIR / name, folder / name)
    shutil.copyfile(ctx.piece.folder / WARMUP_NAME, folder / WARMUP_NAME)
    return folder


def _piece(ctx: RunContext, path: Path) -> Piece:
    from tests.player.test_corpus_matrix import ENTRIES

    return Piece(path, path.stat().st_size, ENTRIES[path.name]["piece_cid"], 0.0, path.name, ctx.piece.warmup_cid)


def _name_the_worst(result: ScenarioResult, files: list[str]) -> None:
    """Copy the worst file's cells into the worst-file row, and name the file in its label."""

    def badness(name: str) -> tuple[int, float]:
        measure = result.measures[file_key(name)]
        ours, direct = measure.cell("pieceplayer"), measure.cell("direct")
        if ours.errors or not ours.samples:
            return (1, 0.0)
        return (0, ours.median / direct.median if direct.median else 0.0)

    worst = max(files, key=badness)
    source, target = result.measures[file_key(worst)], result.measures[WORST]
    target.label = f"worst file ({worst}): open → first frame"
    for contender in ("pieceplayer", "direct"):
        cell = source.cell(contender)
        target.cells[contender] = Cell(list(cell.samples), cell.skipped, list(cell.errors))
