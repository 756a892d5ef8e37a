"""The soak's desktop: its own Xvfb and openbox, and a user's hands on it (xdotool) and eyes (screenshots).

Why a window manager: keyboard focus and ``windowactivate`` need one, and a person's desktop has one. Why the
seek slider is found in a screenshot: the soak drives any build of the app (also the frozen one) from outside,
like a person, and a person finds the slider by looking at it — by its colours, the groove the app paints.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCREEN = (1600, 1000)
_START_TIMEOUT_S = 15.0
_XDO_TIMEOUT_S = 15.0
#: The seek groove's colours (player/seek_slider.py, player/panel/palette.py): track, cached band, played part.
GROOVE_COLOURS = (0xFF2A2F3A, 0xFF55647D, 0xFF3DA5FF)
PLAYED_COLOUR = 0xFF3DA5FF
#: The handle (drawn only while a piece with a duration is open).
HANDLE_COLOUR = 0xFFD7DBE3
#: The handle (a disc up to 14 px wide) interrupts the groove; a longer gap ends it.
_GROOVE_GAP = 18
_MIN_GROOVE = 80
_HANDLE_RADIUS = 6
_MOVED_PIXELS = 300
#: The transport bar's right side (total time, volume, speed, panel and fullscreen buttons) is wider than this,
#: so the video's whole width, and none of the panel, lies left of the slider's end plus this.
_TIME_LABEL = 150


class DesktopError(RuntimeError):
    """The desktop could not be set up (a tool missing, the display in use); the message says which."""


def missing_tools() -> list[str]:
    return [tool for tool in ("Xvfb", "openbox", "xdotool", "import") if shutil.which(tool) is None]


@dataclass(frozen=True)
class Slider:
    """The seek groove in window coordinates: from ``left`` to ``right`` on row ``y``."""

    left: int
    right: int
    y: int

    def x_at(self, fraction: float) -> int:
        return round(self.left + fraction * (self.right - self.left))

    def fraction_at(self, x: float) -> float:
        return (x - self.left) / max(1, self.right - self.left)


class Desktop:
    """``start()`` an X server on ``display`` (None: the first free one) with openbox; ``stop()`` both."""

    def __init__(self, work: Path, display: int | None = None) -> None:
        self.work = work
        self.requested = display
        self.number: int | None = None
        self._processes: list[subprocess.Popen] = []

    @property
    def name(self) -> str:
        return f":{self.number}"

    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.name}

    def start(self) -> str:
        missing = missing_tools()
        if missing:
            raise DesktopError(f"the soak needs {', '.join(missing)} (./dev test installs them)")
        log = (self.work / "xvfb.log").open("ab")
        screen = ["-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"]
        if self.requested is None:
            read_end, write_end = os.pipe()
            xvfb = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_end), *screen], pass_fds=(write_end,), stdout=log, stderr=log
            )
            os.close(write_end)
            self._processes.append(xvfb)
            self.number = int(_read_line(read_end, _START_TIMEOUT_S) or -1)
            os.close(read_end)
            if self.number < 0:
                self.stop()
                raise DesktopError(f"Xvfb did not say which display it took; see {self.work / 'xvfb.log'}")
        else:
            self.number = self.requested
            self._processes.append(subprocess.Popen(["Xvfb", self.name, *screen], stdout=log, stderr=log))
        self._wait_for_server()
        wm_log = (self.work / "openbox.log").open("ab")
        self._processes.append(
            subprocess.Popen(["openbox"], env={**os.environ, **self.env()}, stdout=wm_log, stderr=wm_log)
        )
        time.sleep(0.5)  # openbox takes the screen; windows mapped after this get a frame and focus
        return self.name

    def _wait_for_server(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._processes[0].poll() is not None:
                self.stop()
                raise DesktopError(f"Xvfb {self.name} exited (display in use?); see {self.work / 'xvfb.log'}")
            if self.xdo("getdisplaygeometry", check=False).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise DesktopError(f"Xvfb {self.name} did not answer within {_START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()

    # --- hands ---------------------------------------------------------------------------------------------

    def xdo(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["xdotool", *args],
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            timeout=_XDO_TIMEOUT_S,
        )
        if check and result.returncode != 0:
            raise DesktopError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def app_window(self, pids: list[int]) -> int | None:
        """The largest visible window of these processes (the main window; the video surface is a smaller one)."""
        best, best_area = None, 0
        for pid in pids:
            found = self.xdo("search", "--onlyvisible", "--pid", str(pid), check=False).stdout.split()
            for window in map(int, found):
                _, _, width, height = self.geometry(window)
                if width * height > best_area:
                    best, best_area = window, width * height
        return best

    def window_pid(self, window: int) -> int:
        return int(self.xdo("getwindowpid", str(window)).stdout.strip())

    def geometry(self, window: int) -> tuple[int, int, int, int]:
        out = self.xdo("getwindowgeometry", "--shell", str(window), check=False).stdout
        values = dict(line.split("=", 1) for line in out.split() if "=" in line)
        return tuple(int(values.get(k, 0)) for k in ("X", "Y", "WIDTH", "HEIGHT"))  # type: ignore[return-value]

    def activate(self, window: int) -> None:
        self.xdo("windowactivate", "--sync", str(window), check=False)

    def key(self, window: int, *keys: str) -> None:
        self.activate(window)
        self.xdo("key", "--clearmodifiers", *keys)

    def type_text(self, window: int, text: str) -> None:
        self.activate(window)
        self.xdo("type", "--clearmodifiers", "--delay", "8", text)

    def click(self, window: int, x: int, y: int) -> None:
        self.activate(window)
        self.xdo("mousemove", "--window", str(window), str(x), str(y), "click", "1")

    def move_mouse(self, window: int, x: int, y: int) -> None:
        self.xdo("mousemove", "--window", str(window), str(x), str(y), check=False)

    def resize(self, window: int, width: int, height: int) -> None:
        self.xdo("windowsize", str(window), str(width), str(height))

    # --- eyes ----------------------------------------------------------------------------------------------

    def screenshot(self, path: Path, window: int | None = None) -> Path:
        """A PNG of one window (or the whole screen)."""
        target = str(window) if window is not None else "root"
        subprocess.run(
            ["import", "-display", self.name, "-window", target, str(path)],
            check=True,
            capture_output=True,
            timeout=_XDO_TIMEOUT_S,
        )
        return path


def _read_line(fd: int, timeout: float) -> str:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def pixels(path: Path) -> np.ndarray:
    """A PNG as rows of 0xAARRGGBB integers (QImage reads it; no QApplication is needed for that)."""
    from PySide6.QtGui import QImage

    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    if image.isNull():
        raise DesktopError(f"cannot read the screenshot {path}")
    stride = image.bytesPerLine() // 4
    rows = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(image.height(), stride)
    return rows[:, : image.width()].copy()


def find_slider(image: np.ndarray) -> Slider | None:
    """The seek groove: the longest run of groove colours in the lower quarter that starts in the left half
    (the panel docks on the right), on the middle one of the rows where it is that long."""
    height, width = image.shape
    mask = np.isin(image, GROOVE_COLOURS)
    runs: list[Slider] = []
    for y in range(height * 3 // 4, height):
        xs = np.flatnonzero(mask[y])
        if xs.size < _MIN_GROOVE:
            continue
        breaks = np.flatnonzero(np.diff(xs) > _GROOVE_GAP)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [xs.size - 1]))
        for start, end in zip(starts, ends, strict=True):
            left, right = int(xs[start]), int(xs[end])
            if left < width // 2 and right - left >= _MIN_GROOVE:
                runs.append(Slider(left, right, y))
    if not runs:
        return None
    longest = max(run.right - run.left for run in runs)
    rows = [run for run in runs if run.right - run.left >= longest - 2]
    return rows[len(rows) // 2]


def played_fraction(image: np.ndarray, slider: Slider) -> float | None:
    """How far the played part of the groove reaches (0–1), or None if the groove shows no played part."""
    row = image[slider.y, slider.left : slider.right + 1]
    played = np.flatnonzero(row == PLAYED_COLOUR)
    if played.size == 0:
        return None
    return slider.fraction_at(slider.left + int(played[-1]) + _HANDLE_RADIUS)  # the handle covers the last bit


def has_handle(image: np.ndarray, slider: Slider) -> bool:
    """Whether the groove shows its handle: it does only while a piece with a known duration is open."""
    reach = 3 * _HANDLE_RADIUS  # at either end the handle hides the groove's end: the run found stops short
    row = image[slider.y, max(0, slider.left - reach) : slider.right + reach + 1]
    return bool((row == HANDLE_COLOUR).any())


def picture_moved(before: np.ndarray, after: np.ndarray, slider: Slider) -> bool:
    """Whether the video changed between two screenshots: the region above the transport bar, as wide as the
    slider and the time label after it (the video, not the panel), differs in more than a few hundred pixels —
    the demo's running clock changes every frame, a paused frame or an error card does not change at all."""
    if before.shape != after.shape:
        return False
    top, bottom = before.shape[0] // 10, max(0, slider.y - 40)
    region = (slice(top, bottom), slice(0, slider.right + _TIME_LABEL))
    return int((before[region] != after[region]).sum()) > _MOVED_PIXELS
