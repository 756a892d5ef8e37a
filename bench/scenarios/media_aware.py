"""Issue 10's goals, measured with the real player: an MP4 with its index at the end, and a warm re-open.

* **moov at the end**: FFmpeg opens such a file with three requests (start, tail, start again), so playing the
  origin directly pays three round trips before the first frame. PiecePlayer's proxy sees ``mdat`` first in the
  head and fetches the tail in parallel, so the player's second request is already cached. Goal: first frame
  ≤ 0.75 × direct.
* **warm re-open**: the same piece opened again by a new player process with the cache of the first: size and type
  from SQLite, bytes from disk, no upstream round trip before the first byte. Goal: first frame ≤ 30 ms. nginx's
  slice cache is measured the same way (played ``--direct`` through it, twice) as the standard answer.

Both use ``python -m player --self-test`` (one short seek, so the run is quick), as the frame scenario does.
"""

from __future__ import annotations

import random

from bench.model import ScenarioResult
from bench.plan import RunContext
from bench.scenarios.common import mark_unavailable, rotated
from bench.scenarios.frames import player_help, self_test

#: The one seek each self-test makes (a fraction of the piece's duration): the self-test needs one to pass.
_SEEK_AT = 0.3


async def media_aware(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "media",
        "Container-aware open (real player)",
        "Per sample: a fresh contender; the player's self-test opens the piece whose `moov` is at the end (first "
        "frame = `ttff_ms`). Warm re-open: PiecePlayer's self-test runs twice with the same cache folder, nginx is "
        "played `--direct` twice through the same running nginx; the second run's first frame is the figure. "
        "Direct has no cache: its second open is as cold as its first.",
    )
    moov_end = result.measure("moov_end_first_frame_ms", "moov at the end: open → first frame", "ms")
    warm = result.measure("warm_first_frame_ms", "warm re-open → first frame", "ms")
    mark_unavailable(result, ctx)
    help_text = await player_help()
    if help_text is None or ctx.moov_at_end is None:
        result.skip_all(list(ctx.contenders), "player --self-test or the moov-at-end piece is not available")
        return result
    for measure in (moov_end, warm):
        measure.cell("wholefile").skipped = "not run: every open downloads the whole piece (see the cold start)"
    contenders = ctx.active(exclude=("wholefile",))
    moov_piece = ctx.moov_at_end
    for turn in range(ctx.plan.media_repeats):
        rng = random.Random(ctx.rng.randrange(1 << 30))
        seek = round(_SEEK_AT * moov_piece.duration_s * rng.uniform(0.8, 1.2), 1)
        for contender in rotated(contenders, turn):
            report, error = await self_test(ctx, contender, [seek], f"moov-{turn}", piece=moov_piece)
            _record(moov_end.cell(contender.name), report, error)
            first_run = f"warm-{turn}"
            report, error = await self_test(ctx, contender, [seek], first_run, piece=ctx.piece)
            if error:
                warm.cell(contender.name).errors.append(f"first open: {error}")
                continue
            report, error = await self_test(ctx, contender, [seek], first_run, piece=ctx.piece, keep=True)
            _record(warm.cell(contender.name), report, error)
    return result


def _record(cell, report: dict, error: str | None) -> None:
    if error:
        cell.errors.append(error)
    else:
        cell.samples.append(float(report["ttff_ms"]))
