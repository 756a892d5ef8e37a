"""One soak session: the desktop, the second origin and the app started; the app driven like a user on a
schedule; what was recorded summed up. The command line and the goals' story are in ``bench/soak.py``.

The schedule: every ``min(60 s, run / 3)`` a piece switch (Ctrl+L, the CID typed, Return) and, half-way between,
a CID nobody has, its retry four seconds later, and the piece before it again; between those, every 2–5 s, one
gesture: a seek by key (Right, Left, Shift+Right, Shift+Left), a click on the seek slider, the panel hidden for
one pause, or the window resized. Six seconds after each switch the piece must be seen playing.
"""

from __future__ import annotations

import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.lag_peer import LagPeer
from bench.media import ensure_piece
from bench.procs import REPO_ROOT, process_tree
from bench.soak_desktop import (
    Desktop,
    DesktopError,
    find_slider,
    has_handle,
    picture_moved,
    pixels,
    played_fraction,
)
from bench.soak_watch import LAG_P99_GOAL_MS, Recorder, Verdict, load_average, read_lag, summarize
from player.resources import default_demo_dir, demo_pieces
from proxy.commp import commp_of_bytes

DEFAULT_SECONDS = 600.0
DEFAULT_PIECE_MIB = 96
SWITCH_EVERY_S = 60.0
WINDOW_TIMEOUT_S = 90.0
CLOSE_TIMEOUT_S = 20.0
#: The second piece's origin: FilBeam mode (the first request for a piece answers 200 with all of it), 50 ms to
#: first byte, 25 MB/s per connection.
ORIGIN_ARGS = ("--mode", "filbeam", "--latency-ms", "50", "--bandwidth", "25000000")
SIZES = ((1440, 880), (1200, 760), (1000, 640), (1560, 960))
SEEK_KEYS = (("Right", 3), ("Left", 2), ("shift+Right", 1), ("shift+Left", 1))
GESTURES = (("key_seek", 45), ("slider_click", 30), ("panel_toggle", 13), ("resize", 12))
#: A well-formed PieceCID of bytes nobody stores: every upstream answers 404.
BAD_CID = commp_of_bytes(b"PiecePlayer soak: a piece that no upstream has").v2()


def default_app() -> list[str]:
    script = Path(sys.executable).parent / "pieceplayer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "player"]


@dataclass(frozen=True)
class Plan:
    seconds: float
    app: list[str]
    display: int | None = None
    shots: Path | None = None
    piece_mib: int = DEFAULT_PIECE_MIB
    seed: int = 16
    lag_limit_ms: float = LAG_P99_GOAL_MS


@dataclass(order=True)
class _Event:
    at: float
    name: str
    arg: str = ""


class Soak:
    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.rng = random.Random(plan.seed)
        self.desktop = Desktop(work, plan.display)
        self.actions: Counter[str] = Counter()
        #: (monotonic time, action): to tell what the window was doing when its event loop lagged.
        self.timeline: list[tuple[float, str]] = []
        self.notes: list[str] = []
        self.origin: subprocess.Popen | None = None
        self.app: subprocess.Popen | None = None
        self.window = 0
        self.started = 0.0
        self.panel_hidden = False
        self._first_round = [name for name, _ in GESTURES]
        self.size = SIZES[0]
        self.events: list[_Event] = []
        self.rotation: list[tuple[str, str]] = []
        self.current = ""
        self.log_path = work / "app.log"
        self._logs: list = []
        self.lag_path = work / "loop-lag.txt"
        self.peer = LagPeer(work / "peer-lag.txt")  # an idle event loop beside the app: the machine's own lag

    # --- setting up ----------------------------------------------------------------------------------------

    def run(self) -> Verdict:
        piece = ensure_piece(self.plan.piece_mib)
        demo = demo_pieces(default_demo_dir())
        large = (piece.cid, f"{piece.path.name} ({piece.size / 1e6:.0f} MB)")
        others = [(p.piece_cid, p.title) for p in demo[1:] if p.piece_cid]
        first = (demo[0].piece_cid or "", demo[0].title)
        self.rotation = [*others, large, first]
        self.desktop.start()
        try:
            base = self._start_origin(piece.folder)
            self._start_app(base)
            return self._soak(large)
        finally:
            self.peer.stop()
            self._end_app()
            self._stop_origin()
            self.desktop.stop()
            for handle in self._logs:
                handle.close()

    def _log_file(self, name: str):
        handle = (self.work / name).open("ab")
        self._logs.append(handle)
        return handle

    def _start_origin(self, folder: Path) -> str:
        log = self._log_file("origin.log")
        self.origin = subprocess.Popen(
            [sys.executable, "-m", "proxy.emulator", "--dir", str(folder), *ORIGIN_ARGS],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            text=True,
        )
        assert self.origin.stdout is not None
        base = self.origin.stdout.readline().strip()
        if not base.startswith("http"):
            raise DesktopError(f"the origin emulator did not start; see {self.work / 'origin.log'}")
        return base

    def _stop_origin(self) -> None:
        if self.origin is not None and self.origin.poll() is None:
            self.origin.terminate()
            self.origin.wait(10)

    def _end_app(self) -> None:
        """Only if the soak itself failed half-way: the app and its children must not outlive it."""
        if self.app is not None and self.app.poll() is None:
            os.killpg(self.app.pid, signal.SIGKILL)
            self.app.wait()

    def _start_app(self, origin: str) -> None:
        xdg = {
            name: self.work / "xdg" / name.lower() for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")
        }
        for folder in xdg.values():
            folder.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
        env.update({k: str(v) for k, v in xdg.items()})
        env.update(self.desktop.env(), QT_QPA_PLATFORM="xcb", PIECEPLAYER_LOOP_LAG_LOG=str(self.lag_path))
        argv = [*self.plan.app, "--demo", "--upstream", origin + "/{cid}"]
        self.app = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file(self.log_path.name),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.work,
            start_new_session=True,  # its hashing worker too can be ended as a group if it hangs
        )
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        while time.monotonic() < deadline and self.app.poll() is None:
            window = self.desktop.app_window(process_tree(self.app.pid))
            if window:
                self.window = window
                return
            time.sleep(0.5)
        if self.app.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise DesktopError(f"the app exited with status {self.app.returncode} before showing a window:\n{tail}")
        raise DesktopError(f"the app showed no window within {WINDOW_TIMEOUT_S:.0f} s; see {self.log_path}")

    # --- the soak ------------------------------------------------------------------------------------------

    def _soak(self, large: tuple[str, str]) -> Verdict:
        assert self.app is not None
        seconds = self.plan.seconds
        period = min(SWITCH_EVERY_S, seconds / 3)
        self.started = time.monotonic()
        pid = self.desktop.window_pid(self.window)
        recorder = Recorder(pid, self.started)
        recorder.start()
        self.peer.start()
        load_at_start = load_average()
        self.desktop.resize(self.window, *self.size)
        self.current = self.rotation[-1][0]
        self.events = [_Event(3.0, "open", large[0]), _Event(9.0, "check", "large-piece")]
        self.events += [_Event(k * period, "switch") for k in range(1, int(seconds // period) + 1)]
        self.events += [_Event(k * period + period / 2, "bad_cid") for k in range(int(seconds // period) + 1)]
        self.events = sorted(e for e in self.events if e.at < seconds - 2)
        exited_early = self.app.poll() is not None
        while (now := self._elapsed()) < seconds:
            try:
                if self.events and self.events[0].at <= now:
                    self._event(self.events.pop(0))
                elif now >= 2.0:  # the window's first seconds are its own
                    self._gesture()
            except (DesktopError, subprocess.SubprocessError) as exc:
                if self.app.poll() is not None:  # the window went away under the soak's hands
                    exited_early = True
                    break
                self.notes.append(f"{now:.0f} s: {exc}")
                self._did("desktop_error")
            until = min(now + self.rng.uniform(2.0, 5.0), self.events[0].at if self.events else seconds, seconds)
            if not self._wait(until - self._elapsed()):
                exited_early = True
                break
        ran = self._elapsed()
        load_at_end = load_average()
        if not exited_early:
            self._shot("end")
        self.peer.stop()
        recorder.stop()  # before closing: "end" is the app as it ran, not as it frees everything on its way out
        status = self._close()
        output = self.log_path.read_text(errors="replace")
        return summarize(
            seconds=seconds,
            ran_s=ran,
            app=shlex.join(self.plan.app),
            samples=recorder.samples,
            lag=read_lag(self.lag_path),
            peer_lag=read_lag(self.peer.path),
            timeline=self.timeline,
            started=self.started,
            load={"start": load_at_start, "end": load_at_end},
            output=output,
            exited_early=exited_early,
            exit_status=status,
            actions=dict(sorted(self.actions.items())),
            notes=self.notes,
            lag_limit_ms=self.plan.lag_limit_ms,
        )

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _wait(self, seconds: float) -> bool:
        """Sleep, watching the app; False if it exited meanwhile."""
        assert self.app is not None
        deadline = time.monotonic() + max(0.0, seconds)
        while time.monotonic() < deadline:
            if self.app.poll() is not None:
                return False
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        return self.app.poll() is None

    def _did(self, action: str) -> None:
        self.actions[action] += 1
        self.timeline.append((time.monotonic(), action))

    def _later(self, delay: float, name: str, arg: str = "") -> None:
        self.events.append(_Event(self._elapsed() + delay, name, arg))
        self.events.sort()

    def _event(self, event: _Event) -> None:
        if event.name == "open":
            self._open(event.arg)
        elif event.name == "switch":
            cid, _title = self.rotation[self.actions["piece_switch"] % len(self.rotation)]
            self._open(cid)
            self._did("piece_switch")
            self._later(6.0, "check", f"switch-{self.actions['piece_switch']}")
        elif event.name == "bad_cid":
            self._type_cid(BAD_CID)
            self._did("bad_cid")
            self._later(4.0, "retry")
        elif event.name == "retry":
            self._shot(f"bad-cid-{self.actions['bad_cid']}")
            self.desktop.key(self.window, "ctrl+l")
            self.desktop.key(self.window, "Return")
            self._did("retry")
            self._later(4.0, "back")
        elif event.name == "back":
            self._shot(f"retry-{self.actions['retry']}")
            self._open(self.current)
        elif event.name == "check":
            self._check_playing(event.arg)

    def _open(self, cid: str) -> None:
        self._type_cid(cid)
        self.current = cid
        self._did("cid_opened")
        if self._wait(1.0):  # then a click on the video: keys go to the window, not the CID bar
            _, _, width, height = self.desktop.geometry(self.window)
            self.desktop.click(self.window, width // 4, height * 9 // 20)

    def _type_cid(self, cid: str) -> None:
        self.desktop.key(self.window, "ctrl+l")
        self.desktop.type_text(self.window, cid)
        self.desktop.key(self.window, "Return")

    # --- gestures every 2–5 s ------------------------------------------------------------------------------

    def _gesture(self) -> None:
        if self.panel_hidden:  # the panel is hidden for one pause only: it stays visible most of the soak
            self.desktop.key(self.window, "p")
            self.panel_hidden = False
            self._did("panel_toggle")
            return
        names, weights = zip(*GESTURES, strict=True)
        # Each kind once first (a short run has few pauses between its events), then at random.
        gesture = self._first_round.pop(0) if self._first_round else self.rng.choices(names, weights)[0]
        if gesture == "key_seek":
            keys, key_weights = zip(*SEEK_KEYS, strict=True)
            self.desktop.key(self.window, self.rng.choices(keys, key_weights)[0])
        elif gesture == "slider_click":
            self._click_slider()
            return
        elif gesture == "panel_toggle":
            self.desktop.key(self.window, "p")
            self.panel_hidden = True
        elif gesture == "resize":
            self.size = self.rng.choice([s for s in SIZES if s != self.size])
            self.desktop.resize(self.window, *self.size)
        self._did(gesture)

    def _check_playing(self, label: str) -> None:
        """Seconds after an open, the piece must be playing: its duration known (the groove has a handle) and
        its picture moving (two screenshots a second apart differ). Counted; the screenshot is kept if not."""
        self._shot(label)
        first = self.work / "check.png"
        before = pixels(self.desktop.screenshot(first, self.window))
        slider = find_slider(before)
        if self._wait(1.0) and slider is not None and has_handle(before, slider):
            after = pixels(self.desktop.screenshot(self.work / "check-after.png", self.window))
            if picture_moved(before, after, slider):
                self._did("seen_playing")
                return
        self._did("seen_not_playing")
        kept = self.work / f"not-playing-{self.actions['seen_not_playing']}.png"
        shutil.copy(first, kept)
        self.notes.append(f"{self._elapsed():.0f} s: {label} is not playing (no duration, or a still picture): {kept}")

    def _click_slider(self) -> None:
        """Find the groove in a screenshot, click a random spot, and check that the played part moved there.

        While no duration is known (the bad CID's error) the groove has no handle and a click seeks nowhere: such
        a click is made all the same, and counted apart."""
        shot = self.work / "slider.png"
        image = pixels(self.desktop.screenshot(shot, self.window))
        slider = find_slider(image)
        if slider is None:
            self._did("slider_not_found")
            shutil.copy(shot, self.work / f"slider-not-found-{self.actions['slider_not_found']}.png")
            return
        fraction = self.rng.uniform(0.05, 0.9)
        self.desktop.click(self.window, slider.x_at(fraction), slider.y)
        self.desktop.move_mouse(self.window, slider.x_at(0.5), max(0, slider.y - 200))  # off the slider
        if not has_handle(image, slider):
            self._did("slider_click_without_duration")
            return
        self._did("slider_click")
        if not self._wait(0.7):
            return
        played = played_fraction(pixels(self.desktop.screenshot(shot, self.window)), slider)
        if played is not None and abs(played - fraction) < 0.06:
            self.actions["slider_click_landed"] += 1
        else:
            self.notes.append(f"{self._elapsed():.0f} s: a click at {fraction:.0%} of the slider shows {played}")

    # --- the end -------------------------------------------------------------------------------------------

    def _shot(self, label: str) -> None:
        if self.plan.shots is None or self.app is None or self.app.poll() is not None:
            return
        self.plan.shots.mkdir(parents=True, exist_ok=True)
        name = f"{int(self._elapsed()):04d}s-{label}.png"
        try:
            self.desktop.screenshot(self.plan.shots / name)
        except subprocess.SubprocessError as exc:
            self.notes.append(f"screenshot {name} failed: {exc}")

    def _close(self) -> int | None:
        """Close the window like a person (Ctrl+Q); the exit status, or None if it had to be killed."""
        assert self.app is not None
        if self.app.poll() is None:
            try:
                self.desktop.key(self.window, "ctrl+q")
                self.app.wait(CLOSE_TIMEOUT_S)
            except (DesktopError, subprocess.TimeoutExpired):
                self.notes.append(f"the app did not close within {CLOSE_TIMEOUT_S:.0f} s of Ctrl+Q; sent SIGTERM")
                self.app.terminate()
                try:
                    self.app.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.app.pid, signal.SIGKILL)
                    self.app.wait()
                    return None
        return self.app.returncode
