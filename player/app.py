"""``pieceplayer`` / ``python -m player``: start the window, or run the headless self-test.

Contract (DESIGN.md): ``pieceplayer [CID|URL] [--demo] [--upstream T]… [--self-test [--window]] [--direct]
[--seeks S,S,…] [--timeout S] [--report FILE]``.
Without a CID or URL the bundled demo piece plays through the emulated CDN. ``--self-test`` prints one JSON
object as the last stdout line and exits 0 only if playback and every seek worked.

The GUI's own async work (error probes, counters) runs on a qasync loop over Qt's; the proxy runs on its own
thread (``player/host.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path

from player import __version__
from player.pyside_feature_scan import answer_from_files
from player.resources import DemoError, default_demo_dir, demo_pieces
from player.startup_error import (
    NO_DISPLAY_STATUS,
    explain,
    explain_no_display,
    missing_library,
    no_display,
    reporting_qt_fatal,
    show,
)
from player.target import Target, parse_target
from proxy.api import CidError, log_to_stderr, template_source


def parse_seeks(text: str) -> list[float]:
    """``10,45,5`` → ``[10.0, 45.0, 5.0]`` (seconds)."""
    try:
        values = [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeks are seconds separated by commas, like 10,45,5 — not {text!r}"
        ) from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"give one or more positive seconds, like 10,45,5 — not {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pieceplayer",
        description="Play media stored on Filecoin by PieceCID, with near-instant seeks through a local range proxy.",
    )
    parser.add_argument("target", nargs="?", metavar="CID|URL", help="a PieceCID, or a URL that names one")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve the bundled demo pieces from an emulated CDN, asked first (the default without a CID or URL)",
    )
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="an upstream URL containing {cid}, tried before the configured ones; repeatable",
    )
    parser.add_argument("--self-test", action="store_true", help="play headless, seek, print a JSON summary")
    parser.add_argument(
        "--window",
        action="store_true",
        help="self-test in the real main window, side panel shown, and report launch_ms (process start → frame)",
    )
    parser.add_argument("--direct", action="store_true", help="play the upstream URL without the proxy (to compare)")
    parser.add_argument(
        "--seeks", type=parse_seeks, metavar="S,S,…", help="self-test seek targets in seconds (default 10,45,5,30,10)"
    )
    parser.add_argument("--demo-dir", type=Path, metavar="DIR", help="serve this folder as the demo instead")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="the slice cache for this run (default: the settings' folder; the self-test's own is a fresh one)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="self-test: write the seek-anatomy report (HTML) to FILE after its seeks",
    )
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S", help="self-test time limit (default 60)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_to_stderr(logging.DEBUG if args.verbose else logging.WARNING)
    target: Target | None = None
    if args.target:
        try:
            target = parse_target(args.target)
        except CidError as exc:
            parser.error(f"{args.target!r} is not playable: {exc}")
    try:
        for template in args.upstream:
            template_source(template)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        if args.self_test:
            return _self_test(args, target)
        return _gui(args, target)
    except ImportError as exc:  # a Qt module whose system library is missing: say so instead of a traceback
        detail = missing_library(exc)
        if detail is None:
            raise
        show(explain(detail), graphical=not args.self_test)
        return 1


def _qt_app(headless: bool):
    no_display = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if (headless or no_display) and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    with reporting_qt_fatal(graphical=not headless):
        app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("PiecePlayer")
    app.setDesktopFileName("pieceplayer")  # Wayland matches the window to pieceplayer.desktop (its icon, its name)
    app.setOrganizationName("PiecePlayer")
    app.setApplicationVersion(__version__)
    return app


def _run(app, coroutine) -> object:
    from player.gui_loop import gui_loop

    with gui_loop(app) as loop:
        return loop.run_until_complete(coroutine)


def _self_test(args: argparse.Namespace, target: Target | None) -> int:
    answer_from_files()  # before the first Qt import: see player/pyside_feature_scan.py
    from player.self_test import SelfTestPlan, print_summary, run_self_test

    app = _qt_app(headless=not args.window)
    plan = SelfTestPlan(
        target=target,
        demo_first=args.demo or target is None,
        upstreams=args.upstream,
        direct=args.direct,
        seeks_s=args.seeks,
        demo_dir=args.demo_dir or default_demo_dir(),
        time_limit_s=args.timeout,
        cache_dir=args.cache_dir,
        window=args.window,
        report=args.report,
    )
    status, summary = _run(app, run_self_test(plan))
    if summary.get("error"):
        print(f"self-test failed: {summary['error']}", file=sys.stderr)
    print_summary(summary)
    return status


def _gui(args: argparse.Namespace, target: Target | None) -> int:
    if no_display():
        show(explain_no_display(), graphical=False)
        return NO_DISPLAY_STATUS
    answer_from_files()  # before the first Qt import: see player/pyside_feature_scan.py
    app = _qt_app(headless=False)
    from player.host import ProxyHost
    from player.icons import app_icon
    from player.loop_lag import probe_from_environment
    from player.main_window import MainWindow
    from player.settings import Settings
    from player.style import apply_theme
    from player.translation import install_translation

    app.setWindowIcon(app_icon())
    apply_theme(app)
    install_translation(app)
    app.setQuitOnLastWindowClosed(False)
    demo_dir = args.demo_dir or default_demo_dir()
    try:
        demo = demo_pieces(demo_dir)
    except DemoError as exc:
        logging.getLogger(__name__).warning("no demo: %s", exc)
        demo, demo_dir = [], None
    settings = Settings()
    cli_sources = [template_source(t) for t in args.upstream]
    demo_mode = args.demo or target is None
    config = settings.host_config(demo_dir, demo_first=demo_mode, sources=cli_sources)
    if args.cache_dir is not None:  # this run only; the settings keep their folder
        config = dataclasses.replace(config, cache_dir=args.cache_dir)
    host = ProxyHost(config)
    try:
        host.start()
    except RuntimeError as exc:
        print(f"pieceplayer: {exc}", file=sys.stderr)
        return 1
    window = MainWindow(settings, host, cli_sources=cli_sources, demo=demo, demo_dir=demo_dir, demo_mode=demo_mode)
    if target is not None or demo:
        # A piece opens right after the first paint: the video page is shown from the start, so its surface (Qt's
        # RHI window; on Xvfb software OpenGL) is made and first drawn by that paint, not between the open and
        # the first frame, and no "Nothing playing yet" card flashes up for a moment.
        window.video_area.show_video()
    first = target if target is not None else _first_demo(window.controller) if demo else None
    if first is not None and not args.direct:
        window.controller.prepare(first)  # its head is fetched while the window is shown and painted
    window.show()
    probe_from_environment(window)  # opt-in (PIECEPLAYER_LOOP_LAG_LOG): the soak's event-loop lag samples
    _record_launch_after_first_frame(window.playback)
    for number in (signal.SIGINT, signal.SIGTERM):  # Ctrl+C in a terminal closes the window like its close box
        signal.signal(number, lambda *_: window.close())

    async def run() -> None:
        closed = asyncio.get_running_loop().create_future()
        window.closed.connect(lambda: closed.done() or closed.set_result(None))
        await window.until_painted()
        if target is not None:
            window.cid_bar.set_text(target.text)
            window.open_target(target, direct=args.direct)
        elif demo:
            window.open_demo(direct=args.direct)
        await closed

    _run_then_shut_down(app, run(), window.shutdown)
    return 0


def _record_launch_after_first_frame(playback) -> None:
    """Once the first piece shows its first frame, note the files this launch used for the next one to read ahead."""
    from player import launch_readahead

    def first_frame(_record) -> None:
        playback.seeks.finished.disconnect(first_frame)
        launch_readahead.record_in_background(launch_readahead.WINDOW)

    playback.seeks.finished.connect(first_frame)


def _first_demo(controller) -> Target | None:
    """The demo piece a launch without a CID opens (as ``MainWindow.open_demo`` finds it), or None."""
    try:
        return controller.demo_target(0)[0]
    except LookupError:
        return None


def _run_then_shut_down(app, coroutine, shutdown) -> None:
    """Run the window on the GUI loop, then shut it down while that loop is still open.

    Shutting down cancels the controller's tasks (a counter poll is often in flight), and a cancelled task takes
    its last step on its own loop: after the loop had closed, that step met a deleted Qt timer, so Ctrl+Q ended
    the app with a traceback and exit status 1 before the proxy was stopped (found by ``bench/soak.py``).
    """
    from player.gui_loop import gui_loop

    with gui_loop(app) as loop:
        try:
            loop.run_until_complete(coroutine)
        finally:
            shutdown()  # the tasks it cancels end on the loop as gui_loop closes it
