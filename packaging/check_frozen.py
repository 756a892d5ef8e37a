"""Prove that a built app works: ``python packaging/check_frozen.py dist/PiecePlayer/PiecePlayer`` (CI runs it).

Three checks, offscreen:
  1. ``--self-test`` plays the bundled demo through the emulated CDN and seeks; its JSON must say ok, and that the
     fully cached piece passed CommP verification, which runs in the hashing *process*: so the frozen app's
     ``multiprocessing`` start ("spawn" + ``freeze_support``) works;
  2. the window starts, creates its audio output through QML (the QtMultimedia QML module is in the bundle), plays
     the demo, and closes on SIGTERM with status 0, without a traceback, having written its settings and cache
     where platformdirs says (here: an empty home made for the check);
  3. after each run, no process of the app is left behind (the hashing worker, the resource tracker);
  4. the one-folder app stays under 250 MB (issue 16: 229 MB with the pinned dependencies when it was set).
Exit status 0 when all pass; each failure is said in words.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The window gets this long to start and play before it is asked to close.
GUI_SECONDS = 6.0
#: Words in the window's stderr that mean the bundle misses something.
#: The one-folder app's size limit, in MB (10^6 bytes, as the build reports it).
SIZE_LIMIT_MB = 250.0
GUI_FAILURES = ("Traceback", "QML AudioOutput unavailable", 'module "QtMultimedia" is not installed')


def app_processes(folder: Path) -> list[str]:
    """Running processes whose executable is inside ``folder`` (pid and command line)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if exe.startswith(str(folder) + "/"):
            found.append(f"{proc.name}: {cmdline}")
    return found


def wait_for_no_leftovers(folder: Path, seconds: float = 5.0) -> list[str]:
    """The app's processes still running ``seconds`` after it exited (the hashing worker exits within ~1 s)."""
    deadline = time.monotonic() + seconds
    while (left := app_processes(folder)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def offscreen_environment(home: Path) -> dict[str, str]:
    """No display, and a home of its own: the user's settings and cache are neither read nor touched."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home))
    return env


def folder_megabytes(folder: Path) -> float:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink()) / 1e6


def check_size(folder: Path) -> list[str]:
    size = folder_megabytes(folder)
    if size > SIZE_LIMIT_MB:
        return [f"the app folder {folder} holds {size:.1f} MB, over the {SIZE_LIMIT_MB:g} MB limit"]
    return []


def check_self_test(app: Path, home: Path, timeout_s: float) -> tuple[list[str], dict]:
    command = [str(app), "--self-test", "--timeout", f"{timeout_s:g}"]
    env = offscreen_environment(home)
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s + 30)
    problems = []
    lines = run.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else {}
    except ValueError:
        summary = {}
    if run.returncode != 0:
        problems.append(f"--self-test exited with {run.returncode}: {summary.get('error') or run.stderr[-2000:]}")
    if not summary:
        problems.append(f"--self-test printed no JSON summary as its last line:\n{run.stdout[-1000:]}")
    elif summary.get("verified") is not True:
        problems.append(f"the demo piece was not verified by the hashing process (verified={summary.get('verified')})")
    return problems, summary


def check_window(app: Path, home: Path) -> list[str]:
    env = offscreen_environment(home)
    process = subprocess.Popen([str(app)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _, err = process.communicate(timeout=GUI_SECONDS)
        return [f"the window closed by itself within {GUI_SECONDS:g} s (status {process.returncode}):\n{err[-2000:]}"]
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return ["the window did not close within 20 s of SIGTERM"]
    problems = [f"the window's stderr says {words!r}" for words in GUI_FAILURES if words in err]
    if process.returncode != 0:
        problems.append(f"the window exited with {process.returncode} after SIGTERM")
    settings = home / ".config" / "pieceplayer" / "settings.ini"
    cache = home / ".cache" / "pieceplayer"
    if not settings.is_file():
        problems.append(f"the window wrote no settings to {settings}")
    if not cache.is_dir() or not any(cache.rglob("*")):
        problems.append(f"the window cached nothing in {cache}")
    if problems:
        problems.append(f"its stderr ends with:\n{err[-2000:]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check that a built PiecePlayer plays, verifies and exits cleanly.")
    parser.add_argument("app", type=Path, help="the built executable, e.g. dist/PiecePlayer/PiecePlayer")
    parser.add_argument("--timeout", type=float, default=60.0, help="the self-test's time limit (default 60)")
    args = parser.parse_args(argv)
    app = args.app.resolve()
    folder = app.parent
    if not app.is_file():
        print(f"check_frozen: {app} does not exist; build it first (./dev build)", file=sys.stderr)
        return 1
    if app_processes(folder):
        print(f"check_frozen: the app is already running: {app_processes(folder)}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pieceplayer-check-") as home:
        problems, summary = check_self_test(app, Path(home), args.timeout)
        problems += check_size(folder)
        if not any(folder.rglob("resources/README.md")):
            problems.append("the manual (resources/README.md, Help ▸ Read the manual) is not in the bundle")
        problems += [f"left running after the self-test: {p}" for p in wait_for_no_leftovers(folder)]
        problems += check_window(app, Path(home))
        problems += [f"left running after the window closed: {p}" for p in wait_for_no_leftovers(folder)]
    if problems:
        print("check_frozen: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    seeks = ", ".join(f"{s['latency_ms']:g}" for s in summary["seeks"])
    print(
        f"check_frozen: ok: {folder_megabytes(folder):.1f} MB (limit {SIZE_LIMIT_MB:g}), first frame after "
        f"{summary['ttff_ms']:g} ms, seeks {seeks} ms, demo piece verified"
    )
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
