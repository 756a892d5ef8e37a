"""One benchmark run: make the piece, start the origin and every contender, run the scenarios, stop everything."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import cpu_share, machine
from bench.contenders import ALL, Contender
from bench.goals import evaluate
from bench.logs import LogWatch, complaints, summary
from bench.media import ensure_moov_at_end, ensure_piece
from bench.model import ScenarioResult
from bench.origin import BANDWIDTH, LATENCY_MS, Origin
from bench.plan import Plan, RunContext
from bench.procs import REPO_ROOT
from bench.scenarios import SCENARIOS


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


async def run(plan: Plan, only: list[str] | None = None, seed: int = 8, keep_work: bool = False) -> dict:
    started = time.monotonic()
    say(f"{plan.name} plan: preparing the piece (cached under /tmp after the first run)…")
    piece = ensure_piece(plan.piece_mib)
    say(f"piece {piece.path} ({piece.size} bytes, {piece.duration_s:.0f} s)")
    moov_at_end = ensure_moov_at_end(piece)
    scenarios: dict[str, dict] = {}
    work = Path(tempfile.mkdtemp(prefix="pieceplayer-bench-"))
    if keep_work:
        say(f"work folder (logs, caches) kept: {work}")
    origin = Origin(piece.folder, work / "origin.log")
    contenders: dict[str, Contender] = {}
    unavailable: dict[str, str] = {}
    try:
        await origin.start()
        contenders = {cls.name: cls(work, origin.template()) for cls in ALL}
        unavailable = {name: why for name, c in contenders.items() if (why := c.unavailable())}
        ctx = RunContext(plan, piece, origin, contenders, work, random.Random(seed), unavailable, moov_at_end)
        logs = LogWatch()
        for key, scenario in SCENARIOS.items():
            if not only or key in only:
                scenarios[key] = await _run_scenario(key, scenario, ctx)
                scenarios[key]["notes"] += _complaints(ctx, logs)
                if death := await origin.revive():
                    scenarios[key]["notes"].append(death)
    finally:
        for contender in contenders.values():
            await contender.stop()
        await origin.stop()
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "meta": {
            "plan": plan.name,
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": round(time.monotonic() - started, 1),
            "commit": _commit(),
            "seed": seed,
            "machine": machine.describe(),
            "origin": {"mode": "curio", "latency_ms": LATENCY_MS, "bandwidth": BANDWIDTH},
            "piece": piece.as_json(),
            "plan_settings": _plan_settings(plan),
            "contenders": {name: c.title for name, c in contenders.items()},
            "unavailable": unavailable,
            "notes": [f"{name}: {why}" for name, why in unavailable.items()],
        },
        "scenarios": scenarios,
        "goals": evaluate(scenarios),
    }


async def _run_scenario(key: str, scenario, ctx: RunContext) -> dict:
    say(f"{key}…")
    t0, cpu_before = time.monotonic(), cpu_share.read()
    try:
        result: ScenarioResult = await scenario(ctx)
    except Exception as exc:  # one broken scenario must not cost the others
        traceback.print_exc()
        crashed = ScenarioResult(key, key, "crashed before it finished")
        crashed.notes.append(f"{key} crashed: {type(exc).__name__}: {exc}")
        return {**crashed.as_json(), "error": f"{type(exc).__name__}: {exc}"}
    result.seconds = time.monotonic() - t0
    result.cpu = cpu_share.share(cpu_before, cpu_share.read())
    machine_state = cpu_share.words(result.cpu)
    say(f"{key} done in {result.seconds:.0f} s" + (f" ({machine_state})" if machine_state else ""))
    return result.as_json()


def _complaints(ctx: RunContext, logs: LogWatch) -> list[str]:
    """One note per contender (and the origin) that logged problems during the scenario just run."""
    sources = [(c.title, c.log_files()) for c in ctx.contenders.values()] + [("the origin", [ctx.origin.log_path])]
    notes = [summary(who, complaints(logs.new_lines(paths))) for who, paths in sources]
    return [note for note in notes if note]


def _plan_settings(plan: Plan) -> dict:
    settings = {k: v for k, v in vars(plan).items() if k != "watch"}
    settings["watch"] = vars(plan.watch)
    return settings


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        outputs = (":!bench/results", ":!BENCHMARKS.md")  # what a run writes does not make the code dirty
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *outputs], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout
        return head + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return ""
