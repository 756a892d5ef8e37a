"""Helpers every scenario shares: fair ordering, seek positions, fresh contenders, and recording a probe."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterator, Sequence
from typing import TypeVar

from bench.client import Probe, new_session, probe
from bench.contenders import Contender
from bench.media import WARMUP_BYTES, WARMUP_NAME
from bench.model import Cell, Measure, ScenarioResult
from bench.plan import MiB, RunContext

IDLE_AFTER_WARMUP_S = 0.3
#: Seek targets avoid the last slice so that every probe can read on for a while.
_TAIL = 2 * MiB


def rotated(contenders: list[Contender], turn: int) -> list[Contender]:
    """A different contender goes first each turn, so a slow drift of the machine favours nobody."""
    if not contenders:
        return []
    turn %= len(contenders)
    return contenders[turn:] + contenders[:turn]


def spread_offsets(ctx: RunContext, count: int, rng: random.Random) -> list[int]:
    """``count`` seek targets in distinct, evenly sized stretches of the piece, in random order, none aligned to
    a slice boundary, so no target lands in a slice an earlier target (or its read-ahead) brought in."""
    usable = ctx.piece.size - _TAIL
    stretch = usable // count
    offsets = [i * stretch + rng.randrange(1, max(2, stretch // 2)) for i in range(count)]
    rng.shuffle(offsets)
    return offsets


def wholefile_sits_out(ctx: RunContext, contender: Contender, turn: int, skip: str | None, *cells: Cell) -> bool:
    """Does the whole-file contender sit this turn out? It takes few samples (each downloads the whole piece), and
    none when the measure is over its upstream budget (``skip``, noted on its ``cells``)."""
    if contender.name != "wholefile" or (skip is None and turn < ctx.plan.wholefile_samples):
        return False
    for cell in cells:
        cell.skipped = cell.skipped or skip
    return True


Turn = TypeVar("Turn")


def fair_turns(
    ctx: RunContext, turns: Sequence[Turn], *measures: Measure, whole_downloads: int = 1
) -> Iterator[tuple[Turn, Contender]]:
    """Each of ``turns`` (a repeat, a seek target) with every active contender, a different one first each turn
    (:func:`rotated`). The whole-file contender sits out the turns :func:`wholefile_sits_out` says, with the reason
    on its cells of ``measures``; ``whole_downloads`` is how many full-piece fetches one of its samples costs."""
    skip = ctx.wholefile_skip(whole_downloads)
    for turn, at in enumerate(turns):
        for contender in rotated(ctx.active(), turn):
            if not wholefile_sits_out(ctx, contender, turn, skip, *(m.cell(contender.name) for m in measures)):
                yield at, contender


def record_ttfb(cell: Cell, result: Probe) -> None:
    if result.ok and result.ttfb_s is not None:
        cell.samples.append(result.ttfb_s * 1000)
    else:
        cell.errors.append(result.error or "no first byte")


def mark_unavailable(result: ScenarioResult, ctx: RunContext) -> None:
    for name, reason in ctx.unavailable.items():
        for measure in result.measures.values():
            measure.cell(name).skipped = reason


async def fresh(ctx: RunContext, contender: Contender) -> None:
    """Restart with an empty cache, then read the small warm-up piece once and let the contender go idle, so the
    next request measures a piece nobody cached — not a process serving its first request ever, nor one still
    busy with the warm-up (PiecePlayer verifies a completed piece's CommP) — as when a viewer opens a piece in a
    player started a while ago. Every contender gets the same treatment."""
    await contender.restart()
    warmup = dataclasses.replace(
        ctx.piece, path=ctx.piece.folder / WARMUP_NAME, size=WARMUP_BYTES, cid=ctx.piece.warmup_cid
    )
    async with new_session() as session:
        warmed = await probe(session, contender.url(warmup.cid), warmup, 0, read=WARMUP_BYTES)
    if not warmed.ok:
        raise RuntimeError(f"{contender.name} failed its warm-up request: {warmed.error}")
    await asyncio.sleep(IDLE_AFTER_WARMUP_S)


async def fresh_and_counted(ctx: RunContext, contender: Contender) -> None:
    """:func:`fresh`, then the origin's counters zeroed once nothing flows any more (a contender may go on fetching
    after its client left), so what the origin sends from now on is this sample's."""
    await fresh(ctx, contender)
    await ctx.origin.settled_bytes_sent()
    await ctx.origin.reset()
