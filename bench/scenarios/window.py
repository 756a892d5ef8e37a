"""Issue 19: the first frame as a user sees it — the real window at launch, against the headless player and mpv.

* **window first frame**: ``python -m player --self-test --window`` (the main window with its side panel, on an
  X display) against the headless ``--self-test`` of the same build, same piece, same origin: ``ttff_ms`` (open →
  first frame). Goals: ≤ 1.15 × headless, and ≤ 200 ms.
* **launch → first frame**: the window self-test's ``launch_ms`` (the process's own start, from
  ``/proc/self/stat``, to the first frame shown), the headless one's, and mpv's whole-process time of
  ``mpv --frames=1`` on the same URL (direct from the origin; a real video output on the same display, no audio):
  process start → first frame → exit. Goal: ≤ 1.5 × mpv.
* **the stack's floor**: a Python process of the same venv that only imports the libraries the window and the
  proxy stand on (Qt Widgets and Multimedia, aiohttp's client and server, qasync) and exits — no code of ours.
  It is what any launch of this design pays before its first line runs, so a launch goal below it cannot be met
  by our code alone; it is measured in the same run so the two can be compared.

Every launch but one finds the GL shaders Qt and Mesa compiled before (an XDG cache folder kept for the run), as
every launch after a machine's first does: the video surface draws through OpenGL, which on Xvfb's software
renderer compiles its shaders in ~0.25 s when nothing is cached. mpv's ``--vo=x11`` draws without GL. The one launch
with nothing compiled, the run's first, is reported apart (``first_launch_ms``, no goal). The piece's cache and the
settings are fresh for every sample.

* **cold launch**: the same launch and mpv's, each right after the kernel dropped its page cache (root only:
  ``/proc/sys/vm/drop_caches``), as the first launch after a boot: every library and module comes from the disk.
  No goal; it shows what the launch read-ahead (``player/launch_readahead.py``) is for.

The display is ``PIECEPLAYER_BENCH_DISPLAY`` if set (e.g. ``:68``), else an Xvfb with openbox of its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

from bench.model import ScenarioResult
from bench.plan import RunContext
from bench.scenarios.frames import player_help, self_test
from bench.soak_desktop import Desktop, DesktopError

#: The longest a peer process (mpv, the libraries' import) may take.
_PEER_TIMEOUT_S = 60.0
#: The one seek each self-test makes (a fraction of the piece's duration): the self-test needs one to pass.
_SEEK_AT = 0.3
WINDOW, HEADLESS, MPV, LIBRARIES = "pieceplayer", "headless", "mpv", "libraries"
#: Writing 3 here drops the kernel's page cache (clean pages only, after a sync): possible as root only.
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
#: The floor contender's whole program: the imports every launch of this design pays (see the module's docstring).
_LIBRARIES_ONLY = "import PySide6.QtWidgets, PySide6.QtMultimedia, PySide6.QtMultimediaWidgets, aiohttp.web, qasync"


async def window_first_frame(ctx: RunContext) -> ScenarioResult:
    result = ScenarioResult(
        "window",
        "First frame in the real window (issue 19)",
        "Per sample, in turn: the player's self-test in the real main window (`--window`, side panel shown, on "
        "an Xvfb display), the same self-test headless, and `mpv --frames=1 --vo=x11 --ao=null URL` on the "
        "origin's URL of the same piece. First frame = `ttff_ms` (open → frame); launch = `launch_ms` (process "
        "start → frame), and for mpv its whole-process time (start → first frame → exit); `libraries` is a "
        "Python process that only imports Qt, aiohttp and qasync and exits (the stack's floor). A fresh piece "
        "cache and settings each time; the GL shaders compiled by the run's first launch (reported apart as "
        "`first_launch_ms`) are kept, as on a machine where the app has run before.",
    )
    first = result.measure("first_frame_ms", "window: open → first frame", "ms", baseline=HEADLESS)
    launch = result.measure("launch_ms", "launch → first frame shown", "ms", baseline=MPV)
    first_launch = result.measure("first_launch_ms", "a machine's first launch (no shaders compiled yet)", "ms")
    cold = result.measure("cold_launch_ms", "launch → first frame, page cache dropped (as after a boot)", "ms", MPV)
    for measure in (first, launch, first_launch, cold):
        for name in ctx.contenders:
            if name != WINDOW:
                measure.cell(name).skipped = "not run: this scenario compares the window with headless and mpv"
    if await player_help() is None:
        result.skip_all([WINDOW, HEADLESS, MPV, LIBRARIES], "player --self-test not available on this branch")
        return result
    if shutil.which("mpv") is None:
        launch.cell(MPV).skipped = cold.cell(MPV).skipped = "mpv is not installed"
    if not os.access(DROP_CACHES, os.W_OK):
        for name in (WINDOW, MPV):
            cold.cell(name).skipped = f"dropping the page cache needs root ({DROP_CACHES})"
    desktop = None
    display = os.environ.get("PIECEPLAYER_BENCH_DISPLAY")
    if display is None:
        desktop = Desktop(ctx.work)
        try:
            display = desktop.start()
        except DesktopError as exc:
            result.skip_all([WINDOW, HEADLESS, MPV, LIBRARIES], f"no X display: {exc}")
            return result
    direct = ctx.contenders["pieceplayer"]
    url = ctx.origin.template().format(cid=ctx.piece.cid)
    seek = round(_SEEK_AT * ctx.piece.duration_s, 1)
    shaders = ctx.work / "window-xdg-cache"
    shutil.rmtree(shaders, ignore_errors=True)
    try:
        report, error = await self_test(ctx, direct, [seek], "window-first", display=display, cache_home=shaders)
        if error:
            first_launch.cell(WINDOW).errors.append(error)
        else:
            first_launch.cell(WINDOW).samples.append(float(report["launch_ms"]))
        for turn in range(ctx.plan.media_repeats):
            for name, shown in ((WINDOW, display), (HEADLESS, None)):
                report, error = await self_test(
                    ctx, direct, [seek], f"{name}-{turn}", display=shown, cache_home=shaders
                )
                if error:
                    first.cell(name).errors.append(error)
                    launch.cell(name).errors.append(error)
                    continue
                first.cell(name).samples.append(float(report["ttff_ms"]))
                launch.cell(name).samples.append(float(report["launch_ms"]))
            peers = [(LIBRARIES, libraries_only())]
            if shutil.which("mpv") is not None:
                peers.append((MPV, mpv_first_frame(url, display)))
            for name, run in peers:
                took, error = await run
                if error:
                    launch.cell(name).errors.append(error)
                else:
                    launch.cell(name).samples.append(took)
        if os.access(DROP_CACHES, os.W_OK):
            await _cold_launches(ctx, cold, url, seek, display, shaders)
    finally:
        if desktop is not None:
            desktop.stop()
    return result


async def _cold_launches(ctx: RunContext, cold, url: str, seek: float, display: str, shaders: Path) -> None:
    """Per turn, the window launch and mpv's, each after the page cache was dropped, in rotated order."""
    direct = ctx.contenders["pieceplayer"]
    for turn in range(ctx.plan.media_repeats):
        for name in (WINDOW, MPV) if turn % 2 == 0 else (MPV, WINDOW):
            if name == MPV and shutil.which("mpv") is None:
                continue
            drop_page_cache()
            if name == MPV:
                took, error = await mpv_first_frame(url, display)
            else:
                tag = f"cold-{turn}"
                report, error = await self_test(ctx, direct, [seek], tag, display=display, cache_home=shaders)
                took = float(report.get("launch_ms", 0.0))
            if error:
                cold.cell(name).errors.append(error)
            else:
                cold.cell(name).samples.append(took)


def drop_page_cache() -> None:
    """Write dirty pages out, then have the kernel drop every clean page it caches (root only)."""
    os.sync()
    DROP_CACHES.write_text("3\n")


async def mpv_first_frame(url: str, display: str) -> tuple[float, str | None]:
    """mpv's whole-process time to show one frame of ``url`` on ``display`` and exit, in ms."""
    argv = ["mpv", "--no-config", "--frames=1", "--vo=x11", "--ao=null", "--really-quiet", url]
    return await _whole_process("mpv", argv, {**os.environ, "DISPLAY": display})


async def libraries_only() -> tuple[float, str | None]:
    """The floor: a process of the bench's own Python that imports the stack's libraries and exits, in ms."""
    return await _whole_process("the libraries' import", [sys.executable, "-c", _LIBRARIES_ONLY], dict(os.environ))


async def _whole_process(what: str, argv: list[str], env: dict[str, str]) -> tuple[float, str | None]:
    """Start ``argv``, wait for its exit: the whole-process time in ms, or an error in words."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), _PEER_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return 0.0, f"{what} did not finish within {_PEER_TIMEOUT_S:.0f} s"
    took = (time.perf_counter() - started) * 1000.0
    if process.returncode != 0:
        return took, f"{what} exit {process.returncode}: {err.decode(errors='replace').strip()[-200:]}"
    return took, None
