"""The windowed soak: the real main window, used like a person would for minutes, watched for crashes and leaks.

    .venv/bin/python -m bench.soak [--seconds 600] [--app CMD] [--out FILE] [--display N] [--shots DIR]

Why: a window that plays for a few seconds in a test can still die after half a minute (issue 16: a Qt binding
that dropped a reference to ``None`` on every repaint aborted the app 35 s into playback). So this starts its own
Xvfb and openbox, runs the app (``.venv/bin/pieceplayer``, or ``--app dist/PiecePlayer/PiecePlayer``) with fresh
XDG folders and the side panel visible, plays the demo and a larger piece (``resources/make_demo.py --large``,
served by a second emulator process in FilBeam mode, given to the app with ``--upstream``), and every 2–5 s seeks
by key or by clicking the seek slider, toggles the panel or resizes the window; it switches pieces every minute
(Ctrl+L, typing the CID, Return) and, half-way between, opens a CID nobody has and retries it.

It records the app's RSS, open file descriptors and threads (``/proc``), the GUI thread's event-loop lag (the
app's own probe, ``player/loop_lag.py``) and any fatal error, and prints a JSON summary. Goals (issue 16): no
crash, RSS growth after the first minute ≤ 50 MiB, loop-lag p99 ≤ 50 ms; and it also fails on an uncaught
exception in the app's output or a piece opened that is not seen playing. Exit status 0 when all are met, 1 when
one is not, 2 when the soak could not run (its logs are kept then, and whenever a goal is missed).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.soak_desktop import DesktopError
from bench.soak_session import DEFAULT_PIECE_MIB, DEFAULT_SECONDS, Plan, Soak, default_app
from bench.soak_watch import LAG_P99_GOAL_MS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="how long (default 600)")
    parser.add_argument(
        "--app", default=None, metavar="CMD", help="the app's command (default: this venv's pieceplayer)"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    parser.add_argument("--display", type=int, help="X display number for Xvfb (default: the first free one)")
    parser.add_argument("--shots", type=Path, metavar="DIR", help="save screenshots of the screen here")
    parser.add_argument("--piece-mib", type=int, default=DEFAULT_PIECE_MIB, help="the larger piece's size")
    parser.add_argument("--seed", type=int, default=16, help="seed for the gestures (default 16)")
    parser.add_argument(
        "--lag-limit-ms",
        type=float,
        default=LAG_P99_GOAL_MS,
        help=f"the loop-lag p99 that fails the soak (default: the goal, {LAG_P99_GOAL_MS:g} ms; CI uses a looser one)",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep the folder with logs and the app's caches")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.seconds < 60:  # shorter, the bad CID's error would overlap the checks that a piece plays
        build_parser().error("give the soak at least 60 seconds")
    app = shlex.split(args.app) if args.app else default_app()
    if "/" in app[0]:  # the app runs in the soak's own folder: a path relative to here must not change meaning
        app[0] = str(Path(app[0]).resolve())
    plan = Plan(args.seconds, app, args.display, args.shots, args.piece_mib, args.seed, args.lag_limit_ms)
    work = Path(tempfile.mkdtemp(prefix="pieceplayer-soak-"))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: the app, origin and X server are stopped
    try:
        verdict = Soak(plan, work).run()
    except (DesktopError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"soak: could not run: {exc} (logs: {work})", file=sys.stderr)
        return 2
    if args.keep_work or not verdict.ok:
        verdict.notes.append(f"logs and the app's caches: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(verdict.as_json(), indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    for goal in verdict.goals:
        print(
            f"soak: {'met ' if goal['met'] else 'MISS'} {goal['goal']}: {goal['value']} ({goal['limit']})",
            file=sys.stderr,
        )
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
