"""Frame-level timings from the real player: ``python -m player --self-test`` (headless ``QMediaPlayer``).

The self-test prints one JSON object as its last stdout line (``ttff_ms``, ``seeks`` with ``target_s`` and
``latency_ms``, …). PiecePlayer runs with its own in-process proxy pointed at the origin; every other contender
is played with ``--direct`` and the contender's URL template, so the same decoder measures all of them. Each
sample seeks to a few random times, then to the same times again: the first visits are uncached seeks, the
revisits cached ones.

Until the player's ``--self-test`` exists on the branch, every cell says so and nothing else changes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
from pathlib import Path

from bench.contenders import Contender
from bench.media import Piece
from bench.model import ScenarioResult
from bench.plan import RunContext
from bench.procs import REPO_ROOT, python_module
from bench.scenarios.common import fresh, mark_unavailable, rotated

SELF_TEST_TIMEOUT_S = 300.0
_PROBE_TIMEOUT_S = 60.0


async def player_help() -> str | None:
    """``python -m player --help`` if the player has ``--self-test`` here, else None."""
    try:
        process = await asyncio.create_subprocess_exec(
            *python_module("player", "--help"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen"},
        )
        out, _ = await asyncio.wait_for(process.communicate(), _PROBE_TIMEOUT_S)
    except (OSError, TimeoutError):
        return None
    text = out.decode(errors="replace")
    return text if process.returncode == 0 and "--self-test" in text else None


async def player(ctx: RunContext) -> ScenarioResult:
    plan = ctx.plan
    result = ScenarioResult(
        "player",
        "Real player (QMediaPlayer, `--self-test`)",
        f"Per sample: the contender restarted empty; the player's self-test opens the piece, then seeks to "
        f"{plan.player_seeks} random times and to the same times again. First frame = `ttff_ms`; uncached "
        "seeks = the first visits' `latency_ms`, cached seeks = the revisits'. PiecePlayer uses the player's "
        "own in-process proxy; the others are played with `--direct` through their URL.",
    )
    first = result.measure("first_frame_ms", "cold start → first decoded frame", "ms")
    uncached = result.measure("seek_uncached_ms", "seek (not cached) → frame", "ms")
    cached = result.measure("seek_cached_ms", "seek (cached) → frame", "ms")
    measures = (first, uncached, cached)
    mark_unavailable(result, ctx)
    help_text = await player_help()
    if help_text is None:
        result.skip_all(list(ctx.contenders), "player --self-test not available on this branch yet")
        return result
    skip_wholefile = ctx.wholefile_skip(1 + 2 * plan.player_seeks)
    if skip_wholefile:
        for measure in measures:
            measure.cell("wholefile").skipped = skip_wholefile
    contenders = ctx.active(exclude=("wholefile",) if skip_wholefile else ())
    for turn in range(plan.player_repeats):
        rng = random.Random(ctx.rng.randrange(1 << 30))
        targets = sorted(round(rng.uniform(0.05, 0.9) * ctx.piece.duration_s, 1) for _ in range(plan.player_seeks))
        rng.shuffle(targets)
        for contender in rotated(contenders, turn):
            report, error = await self_test(ctx, contender, targets + targets, str(turn))
            if error:
                for measure in measures:
                    measure.cell(contender.name).errors.append(error)
                continue
            first.cell(contender.name).samples.append(float(report["ttff_ms"]))
            for i, seek in enumerate(report.get("seeks", [])):
                cell = (uncached if i < len(targets) else cached).cell(contender.name)
                if seek.get("latency_ms") is None:
                    cell.errors.append(f"no frame near the seek target {seek.get('target_s')} s")
                else:
                    cell.samples.append(float(seek["latency_ms"]))
    return result


async def self_test(
    ctx: RunContext,
    contender: Contender,
    seeks: list[float],
    tag: str,
    *,
    piece: Piece | None = None,
    keep: bool = False,
    display: str | None = None,
    cache_home: Path | None = None,
) -> tuple[dict, str | None]:
    """Run the player's self-test on ``piece`` (default: the run's piece) through ``contender``.

    A fresh player home (cache, settings) and a fresh contender, unless ``keep``: then the home named ``tag``
    and the running contender are reused — a warm re-open. With ``display`` (an X display name), the self-test
    runs in the real window on that display (``--window``) instead of headless. ``cache_home`` is the XDG cache
    folder to use instead of the fresh home's: there Qt and Mesa keep the GL shaders they compiled, which every
    launch after a machine's first finds (the piece's cache is ``--cache-dir``, in the home either way).
    """
    piece = piece or ctx.piece
    home = ctx.work / f"player-home-{contender.name}-{tag}"
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
    argv = ["--self-test", "--seeks", ",".join(f"{s:g}" for s in seeks), "--timeout", f"{SELF_TEST_TIMEOUT_S - 30:g}"]
    if display is not None:
        argv.append("--window")
    if contender.name == "pieceplayer":  # the self-test's own cache is a fresh temporary one; keep this one
        argv += ["--upstream", ctx.origin.template(), "--cache-dir", str(home / "proxy-cache")]
    else:
        if not keep:
            await fresh(ctx, contender)
        argv += ["--direct", "--upstream", contender.url("{cid}")]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CACHE_HOME": str(cache_home or home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    if display is not None:
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    process = await asyncio.create_subprocess_exec(
        *python_module("player", *argv, piece.cid),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), SELF_TEST_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return {}, f"self-test timed out after {SELF_TEST_TIMEOUT_S:.0f} s"
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1])
        float(report["ttff_ms"])
    except (IndexError, ValueError, KeyError, TypeError):
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        return {}, f"self-test exit {process.returncode}, no JSON report: {' | '.join(tail)}"
    if process.returncode != 0 and not report.get("seeks"):
        return report, f"self-test exit {process.returncode}: {report.get('error') or lines[-1][:200]}"
    return report, None
