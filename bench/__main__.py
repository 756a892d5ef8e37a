"""``python -m bench [--quick] [--out bench/results/latest.json] [--markdown BENCHMARKS.md] [--only a,b]``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
from pathlib import Path

from bench.plan import FULL, QUICK
from bench.procs import REPO_ROOT, compile_project
from bench.report import write_markdown
from bench.runner import run, say
from bench.scenarios import SCENARIOS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="PiecePlayer's proxy against direct origin reads, nginx's slice cache and the whole-file "
        "pattern, on the same piece and the same emulated origin.",
    )
    parser.add_argument("--quick", action="store_true", help="small piece, few repeats (CI, a few minutes)")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default: bench/results/latest.json)")
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        help="regenerate this Markdown file's table (default: BENCHMARKS.md for a full run, none for --quick)",
    )
    parser.add_argument("--only", default="", help=f"comma-separated scenarios: {', '.join(SCENARIOS)}")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary folder with logs and caches")
    parser.add_argument(
        "--viewers", type=int, default=None, help="viewers in the concurrency scenario (default: the plan's)"
    )
    parser.add_argument("--seed", type=int, default=8, help="seed for offsets and sessions (default 8)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    plan = QUICK if args.quick else FULL
    if args.viewers is not None:
        plan = dataclasses.replace(plan, viewers=args.viewers)
    out = args.out or REPO_ROOT / "bench" / "results" / "latest.json"
    markdown = args.markdown or (None if args.quick else REPO_ROOT / "BENCHMARKS.md")
    # SIGTERM unwinds like Ctrl-C, so the contenders and the origin are stopped, not orphaned.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    compile_project()
    results = asyncio.run(run(plan, only or None, args.seed, args.keep_work))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    say(f"results: {out}")
    if markdown is not None:
        write_markdown(results, markdown)
        say(f"table: {markdown}")
    for goal in results["goals"]:
        say(f"{goal['result']:4}  {goal['scenario']}/{goal['measure']}: {goal['goal']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
